"""pywebsocket's ``stream``: ``request.ws_stream`` and the frame helpers handlers use.

``Stream`` is the blocking adapter over the connection core
(``runtime.blocking_stream``); the exceptions and ``create_*_frame`` helpers keep
the names handlers written for pywebsocket import from here.
"""

from __future__ import annotations

from .runtime.blocking_stream import (
    DEFAULT_MAX_MESSAGE_SIZE,
    DEFAULT_READ_SIZE,
    MAX_READ_SIZE,
    BadOperationException,
    ConnectionTerminatedException,
    Frame,
    InvalidFrameException,
    InvalidUTF8Exception,
    MessageTooBigException,
    Stream,
    StreamOptions,
    UnsupportedFrameException,
    create_binary_frame,
    create_close_frame,
    create_closing_handshake_body,
    create_header,
    create_length_header,
    create_ping_frame,
    create_pong_frame,
    create_text_frame,
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
