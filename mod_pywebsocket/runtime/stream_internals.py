"""pywebsocket3's underscored ``Stream`` methods, for handlers that read and write frames themselves.

Browser vendors' handlers reach past ``receive_message()``: Chromium's read the client's
pong with ``_receive_frame()``, and decode permessage-deflate by hand with
``_receive_frame_as_frame_object()``, ``_get_message_from_frame()`` and
``_process_close_message()``; others write raw bytes with ``_write()``. This mixin gives
``blocking_stream.Stream`` those methods with pywebsocket3's semantics, on the same core
and under the same rules: raw frames come from the core's parser (masking and the size
limit checked, nothing else, as pywebsocket3 checked), a close a handler processes
itself is recorded by the core and answered as any other, and every write goes through
the stream's locked send path.

It also runs pywebsocket3's receive loop when an extension processor of the handler's
own installed frame or message filters (``StreamOptions``' filter lists): each frame
through the incoming frame filters, each message through the incoming message filters.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from ..core import constants
from ..core.errors import InvalidFrameException, ProtocolError
from ..core.frames import MAX_CONTROL_PAYLOAD, FragmentedFrameBuilder, Frame
from ..core.messages import Control

if TYPE_CHECKING:
    import threading
    from collections.abc import Callable
    from typing import Any, NoReturn, TypeVar

    from ..core.connection import ServerConnection
    from ..core.frames import Close
    from .stream_options import StreamOptions

    _T = TypeVar("_T")

_TEXT, _BINARY = constants.OPCODE_TEXT, constants.OPCODE_BINARY


class PywebsocketInternals:
    """pywebsocket3's ``Stream`` internals; mixed into ``blocking_stream.Stream``."""

    if TYPE_CHECKING:  # what this mixin uses of blocking_stream.Stream, for the type checker
        _core: ServerConnection
        _core_lock: threading.Lock
        _options: StreamOptions
        _original_opcode: int | None
        _received_fragments: list[bytes]
        _reserved_code: int

        def _pull(self, take: Callable[[], _T | None]) -> _T: ...
        def _read_some(self, size: int) -> bytes: ...
        def _fail(self, code: int, reason: str) -> NoReturn: ...
        def _on_control(self, event: Control) -> None: ...
        def _on_close(self, event: Close) -> None: ...
        def _send(self, produce: Callable[..., bytes], *args: Any) -> None: ...
        def _send_close(self, code: int | None, reason: str) -> None: ...

    # -- raw frames -------------------------------------------------------------

    def _receive_frame(self) -> tuple[int, bytes, int, int, int, int]:
        """The next frame as ``(opcode, payload, fin, rsv1, rsv2, rsv3)``, unassembled."""
        frame = self._receive_frame_as_frame_object()
        return frame.opcode, frame.payload, frame.fin, frame.rsv1, frame.rsv2, frame.rsv3

    def _receive_frame_as_frame_object(self) -> Frame:
        """The next frame as it came (a ``Frame``): no assembly, no control-frame handling."""
        return self._pull(self._core.next_frame_unchecked)

    def receive_filtered_frame(self) -> Frame:
        """One whole text or binary frame, through the incoming filters and inflated when
        compressed (pywebsocket3's test helper)."""
        frame = self._receive_frame_as_frame_object()
        if not frame.fin:
            raise InvalidFrameException("receive_filtered_frame takes unfragmented frames only")
        if frame.opcode not in (_TEXT, _BINARY):
            raise InvalidFrameException("receive_filtered_frame takes text and binary frames only")
        for frame_filter in self._options.incoming_frame_filters:
            frame_filter.filter(frame)
        if frame.rsv1:
            try:
                frame.payload = self._core.inflate(frame.payload)
            except ProtocolError as e:
                self._fail(e.code, e.reason)
            frame.rsv1 = 0
        for message_filter in self._options.incoming_message_filters:
            frame.payload = message_filter.filter(frame.payload)
        return frame

    def _get_message_from_frame(self, frame: Frame) -> bytes | None:
        """Add ``frame`` to the message it belongs to: the message's payload once its last
        frame is in, else None. ``get_last_received_opcode()`` gives the message's opcode."""
        fragments = self._received_fragments
        if frame.opcode == constants.OPCODE_CONTINUATION:
            if not fragments:
                self._fail(constants.STATUS_PROTOCOL_ERROR, "continuation frame with no message to continue")
            self._add_fragment(frame.payload)
            if not frame.fin:
                return None
            message = b"".join(fragments)
            fragments.clear()
            return message
        if fragments:
            self._fail(constants.STATUS_PROTOCOL_ERROR, "new frame inside a fragmented message")
        self._original_opcode = frame.opcode
        if frame.fin:
            return frame.payload
        if frame.opcode >= constants.OPCODE_CLOSE:
            self._fail(constants.STATUS_PROTOCOL_ERROR, "fragmented control frame")
        self._add_fragment(frame.payload)
        return None

    def _add_fragment(self, payload: bytes) -> None:
        limit = self._options.max_message_size
        if limit is not None and sum(map(len, self._received_fragments)) + len(payload) > limit:
            self._fail(constants.STATUS_MESSAGE_TOO_BIG, f"message exceeds {limit} bytes")
        self._received_fragments.append(payload)

    # -- control messages the handler read itself ----------------------------------

    def _process_close_message(self, message: bytes) -> None:
        """A close the handler read itself: recorded, and answered as any close is."""
        try:
            with self._core_lock:
                close = self._core.record_close(message)
        except ProtocolError as e:
            self._fail(e.code, e.reason)
        self._on_close(close)

    def _process_ping_message(self, message: bytes) -> None:
        self._on_control(Control(constants.OPCODE_PING, message))

    def _process_pong_message(self, message: bytes) -> None:
        self._on_control(Control(constants.OPCODE_PONG, message))

    # -- writing ----------------------------------------------------------------

    def _send_closing_handshake(self, code: int | None, reason: str) -> None:
        self._send_close(code, reason or "")

    def _send_pong(self, body: bytes) -> None:
        self._send(self._core.send_pong, body)

    @cached_property
    def _writer(self) -> FragmentedFrameBuilder:
        """The stream's frame builder, made on first use (pywebsocket3 kept one per stream)."""
        options = self._options
        return FragmentedFrameBuilder(
            options.mask_send,
            options.outgoing_frame_filters,  # type: ignore[arg-type]  # the core's builder takes list[object]
            options.encode_text_message_to_utf8,
        )

    # -- raw bytes ----------------------------------------------------------------

    def _read(self, length: int) -> bytes:
        """Up to ``length`` bytes: what the stream has read ahead first, else one read."""
        buffered = self._core.take_raw(length)
        return buffered or self._read_some(length)

    def _read_until(self, delim_char: bytes) -> bytes:
        """Bytes up to ``delim_char`` (which is consumed and not returned)."""
        out = bytearray()
        while (byte := self._read(1)) != delim_char:
            out += byte
        return bytes(out)

    # -- the receive loop with a handler's own filters -------------------------------

    def _receive_message_filtered(self) -> str | bytes | None:
        """``receive_message()`` when an extension of the handler's installed filters."""
        options = self._options
        while True:
            frame = self._receive_frame_as_frame_object()
            if frame.opcode >= constants.OPCODE_CLOSE and len(frame.payload) > MAX_CONTROL_PAYLOAD:
                self._fail(constants.STATUS_PROTOCOL_ERROR, "control frame payload over 125 bytes")
            for frame_filter in options.incoming_frame_filters:
                frame_filter.filter(frame)
            if frame.rsv1 or frame.rsv2 or frame.rsv3:
                self._fail(self._reserved_code, "reserved bits set and no extension took them")
            message = self._get_message_from_frame(frame)
            if message is None:
                continue
            for message_filter in options.incoming_message_filters:
                message = message_filter.filter(message)
            opcode = self._original_opcode
            if opcode == _TEXT:
                try:
                    return message.decode("utf-8")
                except UnicodeDecodeError:
                    self._fail(constants.STATUS_INVALID_FRAME_PAYLOAD_DATA, "text message is not UTF-8")
            if opcode == _BINARY:
                return message
            if opcode == constants.OPCODE_CLOSE:
                self._process_close_message(message)
                return None
            if opcode in (constants.OPCODE_PING, constants.OPCODE_PONG):
                self._on_control(Control(opcode, message))
                continue
            self._fail(self._reserved_code, f"reserved opcode {opcode:#x}")
