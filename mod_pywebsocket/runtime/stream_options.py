"""``StreamOptions``: one stream's limits and the server's policy, which the handshake applies.

The adapters make one from their settings and hand it to the flow, which hands it to
the handshake; an extension processor of a handler's own may install pywebsocket3's
filters on a copy of its own (``for_one_connection``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from ..core.connection import DEFAULT_MAX_MESSAGE_SIZE

if TYPE_CHECKING:
    from .capacity import BufferBudget
    from .capture_flow import CapturePolicy
    from .interfaces import FrameFilter, IncomingMessageFilter, OutgoingMessageFilter

#: ``StreamOptions.read_size``: what a read asks for at least, from a connection that
#: returns what has arrived (blocking_stream says why).
DEFAULT_READ_SIZE = 16 * 1024


@dataclass
class StreamOptions:
    max_message_size: int | None = DEFAULT_MAX_MESSAGE_SIZE
    read_size: int = DEFAULT_READ_SIZE
    # On a read timeout, send one ping and keep waiting; give up on the second.
    ping_on_idle: bool = True
    unmask_receive: bool = True
    mask_send: bool = False
    encode_text_message_to_utf8: bool = True
    # Server policy the handshake applies: Origins allowed to connect (None: any).
    # Clients that send no Origin (non-browsers) are not affected.
    allowed_origins: frozenset[str] | None = None
    # The process's budget for message data being received (None: only max_message_size).
    buffer_budget: BufferBudget | None = None
    # WS_CAPTURE: where and how connections are captured (None: not at all).
    capture: CapturePolicy | None = None
    # pywebsocket's filters (objects with ``filter(...)``), which an extension processor
    # of a handler's own may install; this server's permessage-deflate uses none.
    outgoing_frame_filters: list[FrameFilter] = field(default_factory=list)
    incoming_frame_filters: list[FrameFilter] = field(default_factory=list)
    outgoing_message_filters: list[OutgoingMessageFilter] = field(default_factory=list)
    incoming_message_filters: list[IncomingMessageFilter] = field(default_factory=list)

    def for_one_connection(self) -> StreamOptions:
        """A copy with lists of its own, for an extension that changes one stream's options."""
        return replace(
            self,
            outgoing_frame_filters=list(self.outgoing_frame_filters),
            incoming_frame_filters=list(self.incoming_frame_filters),
            outgoing_message_filters=list(self.outgoing_message_filters),
            incoming_message_filters=list(self.incoming_message_filters),
        )
