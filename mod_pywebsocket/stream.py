"""pywebsocket's ``stream``: ``request.ws_stream`` and the frame helpers handlers use.

``Stream`` is the blocking adapter over the connection core
(``runtime.blocking_stream``); the exceptions and the ``create_*_frame`` helpers
below keep the names handlers written for pywebsocket import from here.
"""

from __future__ import annotations

import logging
import os
import struct
from collections import deque  # noqa: F401 - pywebsocket3's stream module has the name

from . import common, util
from .core import constants
from .core.connection import DEFAULT_MAX_MESSAGE_SIZE
from .core.errors import (
    BadOperationException,
    ConnectionTerminatedException,
    InvalidFrameException,
    InvalidUTF8Exception,
    MessageTooBigException,
    UnsupportedFrameException,
)
from .core.frames import (
    Close,
    FragmentedFrameBuilder,
    Frame,
    apply_mask,
    build_filtered_frame,
    create_header,
    create_length_header,
)
from .runtime.blocking_stream import (
    DEFAULT_READ_SIZE,
    MAX_READ_SIZE,
    Stream,
    StreamOptions,
    default_passive_closing_handshake,
)

__all__ = [
    "DEFAULT_MAX_MESSAGE_SIZE",
    "DEFAULT_READ_SIZE",
    "MAX_READ_SIZE",
    "BadOperationException",
    "ConnectionTerminatedException",
    "FragmentedFrameBuilder",
    "Frame",
    "InvalidFrameException",
    "InvalidUTF8Exception",
    "MessageTooBigException",
    "Stream",
    "StreamOptions",
    "UnsupportedFrameException",
    "create_binary_frame",
    "create_close_frame",
    "create_closing_handshake_body",
    "create_header",
    "create_length_header",
    "create_ping_frame",
    "create_pong_frame",
    "create_text_frame",
    "default_passive_closing_handshake",
    "parse_frame",
]

_NOOP_MASKER = util.NoopMasker()


# -- frame builders kept for handlers and test clients written for pywebsocket --


def create_closing_handshake_body(code: int | None, reason: str | bytes) -> bytes:
    """A close body as pywebsocket3 built it: any code it let handlers send (1000-4999 but
    1005, 1006 and 1015; ``BadOperationException`` otherwise), the reason as given."""
    if code is None:
        return b""
    try:
        Close(code).check(any_code=True)
    except ValueError as e:
        raise BadOperationException(str(e)) from None
    return struct.pack("!H", code) + (reason if isinstance(reason, bytes) else (reason or "").encode("utf-8"))


def _build_frame(header: bytes, body: bytes, mask: bool) -> bytes:
    """``header`` then ``body``, masked with a fresh key when ``mask``."""
    if not mask:
        return header + body
    key = os.urandom(4)
    return header + key + apply_mask(body, key)


def _filter_and_format_frame_object(frame: Frame, mask: bool, frame_filters) -> bytes:
    return build_filtered_frame(frame, mask, list(frame_filters))


def _create_control_frame(opcode: int, body: bytes, mask: bool, frame_filters) -> bytes:
    frame = Frame(1, 0, 0, 0, opcode, bytes(body))
    for frame_filter in frame_filters:
        frame_filter.filter(frame)
    if len(frame.payload) > 125:
        raise BadOperationException("a control frame's payload must be 125 bytes or fewer")
    return build_filtered_frame(frame, mask, [])


def parse_frame(receive_bytes, logger=None, ws_version: int = constants.VERSION_HYBI_LATEST, unmask_receive=True):
    """Read one frame with ``receive_bytes(n)`` (exactly ``n`` bytes each call) and return
    ``(opcode, payload, fin, rsv1, rsv2, rsv3)``, unmasked: pywebsocket's parser for test
    clients. InvalidFrameException when the mask bit is not what ``unmask_receive`` asks."""
    logger = logger or logging.getLogger(__name__)
    first, second = struct.unpack("!BB", receive_bytes(2))
    masked = bool(second & 0x80)
    if masked != bool(unmask_receive):
        raise InvalidFrameException("the frame's mask bit does not match the masking configuration")
    length = second & 0x7F
    if length == 127:
        length = struct.unpack("!Q", receive_bytes(8))[0]
        if length >> 63:
            raise InvalidFrameException("extended payload length >= 2^63")
    elif length == 126:
        length = struct.unpack("!H", receive_bytes(2))[0]
    key = receive_bytes(4) if masked else None
    payload = receive_bytes(length) if length else b""
    if key is not None:
        payload = apply_mask(payload, key)
    logger.log(common.LOGLEVEL_FINE, "received a frame: opcode %#x, %d bytes", first & 0x0F, length)
    return first & 0x0F, payload, first >> 7, (first >> 6) & 1, (first >> 5) & 1, (first >> 4) & 1


def create_text_frame(
    message: str | bytes, opcode: int = constants.OPCODE_TEXT, fin: int = 1, mask: bool = False, frame_filters=()
) -> bytes:
    payload = message.encode("utf-8") if isinstance(message, str) else message
    return create_binary_frame(payload, opcode, fin, mask, frame_filters)


def create_binary_frame(
    message: bytes, opcode: int = constants.OPCODE_BINARY, fin: int = 1, mask: bool = False, frame_filters=()
) -> bytes:
    frame = Frame(int(fin), 0, 0, 0, opcode, bytes(message))
    return _filter_and_format_frame_object(frame, mask, frame_filters)


def create_ping_frame(body: bytes, mask: bool = False, frame_filters=()) -> bytes:
    return _create_control_frame(constants.OPCODE_PING, body, mask, frame_filters)


def create_pong_frame(body: bytes, mask: bool = False, frame_filters=()) -> bytes:
    return _create_control_frame(constants.OPCODE_PONG, body, mask, frame_filters)


def create_close_frame(body: bytes, mask: bool = False, frame_filters=()) -> bytes:
    return _create_control_frame(constants.OPCODE_CLOSE, body, mask, frame_filters)
