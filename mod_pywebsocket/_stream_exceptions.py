"""pywebsocket3's ``_stream_exceptions``: the exceptions a stream raises, under that module's name.

They are defined once, in ``core.errors`` (with the close code each one ends the
connection with), and are the same classes ``stream`` and ``msgutil`` export.
"""

from __future__ import annotations

from .core.errors import (
    BadOperationException,
    ConnectionTerminatedException,
    InvalidFrameException,
    InvalidUTF8Exception,
    UnsupportedFrameException,
)

__all__ = [
    "BadOperationException",
    "ConnectionTerminatedException",
    "InvalidFrameException",
    "InvalidUTF8Exception",
    "UnsupportedFrameException",
]
