"""pywebsocket's ``util`` names that handlers and harnesses still import.

Only what is still meaningful is here: masking objects (backed by the fast
``framing.apply_mask``), ``hexify``, per-class loggers and the exception
helpers. pywebsocket's zlib wrappers are not: permessage-deflate lives in
``extensions``.
"""

from __future__ import annotations

import logging
import traceback

from .core.frames import apply_mask


def get_stack_trace() -> str:
    """The current exception's traceback, as text."""
    return traceback.format_exc()


def prepend_message_to_exception(message: str, exc: BaseException) -> None:
    """Put ``message`` in front of ``exc``'s first argument (pywebsocket's helper)."""
    args = exc.args
    exc.args = (message + str(args[0]),) + tuple(args[1:]) if args else (message,)


def hexify(s: bytes | str) -> str:
    """``b"\\x01\\xab"`` -> ``"01 ab"``."""
    data = s.encode("latin-1") if isinstance(s, str) else bytes(s)
    return " ".join(f"{b:02x}" for b in data)


def get_class_logger(o) -> logging.Logger:
    """A logger named after ``o``'s class (``module.Class``), as pywebsocket names them."""
    return logging.getLogger(f"{o.__class__.__module__}.{o.__class__.__name__}")


class NoopMasker:
    """A masker that leaves data as it is."""

    def mask(self, s: bytes) -> bytes:
        return s


class RepeatedXorMasker:
    """XOR with a repeated 4-byte key, keeping the position between calls (a streaming masker)."""

    def __init__(self, masking_key: bytes) -> None:
        if len(masking_key) != 4:
            raise ValueError("the masking key must be 4 bytes")
        self._key = bytes(masking_key)
        self._offset = 0

    def mask(self, s: bytes) -> bytes:
        offset = self._offset
        key = self._key[offset:] + self._key[:offset]
        self._offset = (offset + len(s)) % 4
        return apply_mask(bytes(s), key)
