"""pywebsocket's ``stream``: ``request.ws_stream`` and the frame helpers handlers use.

``Stream`` is the blocking adapter over the connection core
(``runtime.blocking_stream``); the exceptions and the ``create_*_frame`` helpers
below keep the names handlers written for pywebsocket import from here.
"""

from __future__ import annotations

from .core import constants
from .core.errors import (
    BadOperationException,
    ConnectionTerminatedException,
    InvalidFrameException,
    InvalidUTF8Exception,
    MessageTooBigException,
    UnsupportedFrameException,
)
from .core.frames import Frame, build_frame, create_header, create_length_header, encode_close_body
from .runtime.blocking_stream import (
    DEFAULT_MAX_MESSAGE_SIZE,
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
]


# -- frame builders kept for handlers and test clients written for pywebsocket --


def create_closing_handshake_body(code: int | None, reason: str | bytes) -> bytes:
    return encode_close_body(code, reason or "")


def create_text_frame(
    message: str | bytes, opcode: int = constants.OPCODE_TEXT, fin: int = 1, mask: bool = False, frame_filters=()
) -> bytes:
    payload = message.encode("utf-8") if isinstance(message, str) else message
    return build_frame(opcode, payload, fin=bool(fin), mask=mask)


def create_binary_frame(
    message: bytes, opcode: int = constants.OPCODE_BINARY, fin: int = 1, mask: bool = False, frame_filters=()
) -> bytes:
    return build_frame(opcode, bytes(message), fin=bool(fin), mask=mask)


def create_ping_frame(body: bytes, mask: bool = False, frame_filters=()) -> bytes:
    return build_frame(constants.OPCODE_PING, body, mask=mask)


def create_pong_frame(body: bytes, mask: bool = False, frame_filters=()) -> bytes:
    return build_frame(constants.OPCODE_PONG, body, mask=mask)


def create_close_frame(body: bytes, mask: bool = False, frame_filters=()) -> bytes:
    return build_frame(constants.OPCODE_CLOSE, body, mask=mask)
