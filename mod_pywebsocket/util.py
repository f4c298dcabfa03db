"""pywebsocket's ``util``: the helpers handlers, harnesses and pywebsocket3's modules import.

Masking (``RepeatedXorMasker``, on the core's ``apply_mask``), ``hexify``,
``pack_byte``, per-class loggers, the exception helpers, ``get_script_interp``, and
pywebsocket3's zlib wrappers: ``_Deflater`` / ``_Inflater`` (raw DEFLATE, a window of
``window_bits``), their RFC 1979 forms that strip and restore the sync flush's
``00 00 ff ff`` (``_RFC1979Deflater`` / ``_RFC1979Inflater``, what permessage-deflate
sends), and ``DeflateSocket``. The server's own permessage-deflate codec, with its
inflation limit, is ``core.deflate``; these wrappers are for handlers that compress
or inflate by hand, as WPT's do.
"""

from __future__ import annotations

import logging
import os
import re
import struct
import traceback
import zlib

from .core.frames import apply_mask, apply_mask_python

_SYNC_FLUSH_TAIL = b"\x00\x00\xff\xff"  # the empty stored block Z_SYNC_FLUSH ends with


def get_stack_trace() -> str:
    """The current exception's traceback, as text."""
    return traceback.format_exc()


def prepend_message_to_exception(message: str, exc: BaseException) -> None:
    """Put ``message`` in front of ``exc``'s first argument (pywebsocket's helper)."""
    args = exc.args
    exc.args = (message + str(args[0]),) + tuple(args[1:]) if args else (message,)


def __translate_interp(interp: str, cygwin_path: str | None) -> str:
    """``/usr/bin/perl -wT`` as ``<cygwin_path>/perl -wT``, for a Windows Python running
    Cygwin programs; unchanged without ``cygwin_path``."""
    if not cygwin_path:
        return interp
    match = re.match(r"[^ ]*/([^ ]+)( .*)?", interp)
    if match is None:
        return interp
    return os.path.join(cygwin_path, match.group(1)) + (match.group(2) or "")


def get_script_interp(script_path: str, cygwin_path: str | None = None) -> str | None:
    """The interpreter command line of a ``#!`` script (see ``__translate_interp``), or None."""
    with open(script_path) as script:
        first_line = script.readline()
    if not first_line.startswith("#!"):
        return None
    return __translate_interp(first_line[2:].rstrip("\r\n"), cygwin_path)


def hexify(s: bytes | str) -> str:
    """``b"\\x01\\xab"`` -> ``"01 ab"``."""
    data = s.encode("latin-1") if isinstance(s, str) else bytes(s)
    return " ".join(f"{b:02x}" for b in data)


def get_class_logger(o) -> logging.Logger:
    """A logger named after ``o``'s class (``module.Class``), as pywebsocket names them."""
    return logging.getLogger(f"{o.__class__.__module__}.{o.__class__.__name__}")


def pack_byte(b: int) -> bytes:
    """One byte of value ``b`` (0-255)."""
    return struct.pack("B", b)


class NoopMasker:
    """A masker that leaves data as it is."""

    def mask(self, s: bytes) -> bytes:
        return s


class RepeatedXorMasker:
    """XOR with a repeated key, keeping the position between calls (a streaming masker).

    The key is usually a frame's 4-byte masking key; any non-empty key works.
    """

    def __init__(self, masking_key: bytes) -> None:
        if not masking_key:
            raise ValueError("the masking key is empty")
        self._key = bytes(masking_key)
        self._offset = 0

    def _mask_with(self, mask_function, s: bytes) -> bytes:
        if isinstance(s, str):
            raise TypeError("only bytes are masked, not str")
        offset, size = self._offset, len(self._key)
        self._offset = (offset + len(s)) % size
        key = self._key[offset:] + self._key[:offset]
        if size == 4:
            return mask_function(bytes(s), key)
        return bytes(b ^ key[i % size] for i, b in enumerate(s))

    def _mask_using_swig(self, s: bytes) -> bytes:
        """Mask with the core's fastest masking (the C accelerator when it is built)."""
        return self._mask_with(apply_mask, s)

    def _mask_using_array(self, s: bytes) -> bytes:
        """Mask in pure Python."""
        return self._mask_with(apply_mask_python, s)

    mask = _mask_using_swig


class _Deflater:
    """Raw DEFLATE with a ``window_bits`` window (9 at least: zlib deflates with no smaller one).

    The data parameters are named ``bytes``, as pywebsocket3 names them, for callers
    that pass them by keyword.
    """

    def __init__(self, window_bits: int) -> None:
        self._logger = get_class_logger(self)
        self._compress = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -max(window_bits, 9))

    def _logged(self, data: bytes, compressed: bytes) -> bytes:
        self._logger.debug("Compress input %r", data)
        self._logger.debug("Compress result %r", compressed)
        return compressed

    def compress(self, bytes: bytes) -> bytes:
        """What the compressor can emit so far (it may hold input back)."""
        return self._logged(bytes, self._compress.compress(bytes))

    def compress_and_flush(self, bytes: bytes) -> bytes:
        """Compress and sync-flush: the output ends on a byte boundary with ``00 00 ff ff``."""
        return self._logged(bytes, self._compress.compress(bytes) + self._compress.flush(zlib.Z_SYNC_FLUSH))

    def compress_and_finish(self, bytes: bytes) -> bytes:
        """Compress and end the stream (a final block); the deflater is spent afterwards."""
        return self._logged(bytes, self._compress.compress(bytes) + self._compress.flush(zlib.Z_FINISH))


class _Inflater:
    """Raw INFLATE over data given in pieces (``append``), taken out with ``decompress``.

    Where a stream ends (a final block) and more data follows, the rest is inflated as
    a new stream.
    """

    def __init__(self, window_bits: int) -> None:
        self._logger = get_class_logger(self)
        self._window_bits = window_bits
        self._unconsumed = b""
        self.reset()

    def decompress(self, size: int) -> bytes:
        """Up to ``size`` inflated bytes (-1: all the appended data gives)."""
        if size != -1 and size <= 0:
            raise ValueError(f"size must be -1 or positive, not {size}")
        out = bytearray()
        while size == -1 or len(out) < size:
            room = 0 if size == -1 else size - len(out)  # zlib's 0: no limit
            out += self._decompress.decompress(self._unconsumed, room)
            self._unconsumed = self._decompress.unconsumed_tail
            if not self._decompress.unused_data:
                break
            self._unconsumed = self._decompress.unused_data  # a new stream follows the one that ended
            self.reset()
        if out:
            self._logger.debug("Decompressed %r", bytes(out))
        return bytes(out)

    def append(self, data: bytes) -> None:
        self._logger.debug("Appended %r", data)
        self._unconsumed += data

    def reset(self) -> None:
        """Start a new stream (the appended data that is left stays)."""
        self._logger.debug("Reset")
        self._decompress = zlib.decompressobj(-self._window_bits)


class _RFC1979Deflater:
    """DEFLATE flushed as RFC 1979 section 2.1 says: each ``end`` drops the sync flush's
    ``00 00 ff ff``; ``no_context_takeover`` starts every message with a fresh window."""

    def __init__(self, window_bits: int | None, no_context_takeover: bool) -> None:
        self._deflater: _Deflater | None = None
        self._window_bits = zlib.MAX_WBITS if window_bits is None else window_bits
        self._no_context_takeover = no_context_takeover

    def filter(self, bytes: bytes, end: bool = True, bfinal: bool = False) -> bytes:
        """Compress one piece of a message (``end``: its last one).

        ``bfinal`` ends the DEFLATE stream with a final block (and adds an empty
        non-final stored block's first byte, as pywebsocket3 does); the next call starts
        a new stream.
        """
        if self._deflater is None:
            self._deflater = _Deflater(self._window_bits)
        if bfinal:
            compressed = self._deflater.compress_and_finish(bytes) + pack_byte(0)
            self._deflater = None
            return compressed
        compressed = self._deflater.compress_and_flush(bytes)
        if end:
            compressed = compressed[: -len(_SYNC_FLUSH_TAIL)]
            if self._no_context_takeover:
                self._deflater = None
        return compressed


class _RFC1979Inflater:
    """Inflates what ``_RFC1979Deflater`` makes: each piece gets its ``00 00 ff ff`` back."""

    def __init__(self, window_bits: int = zlib.MAX_WBITS) -> None:
        self._inflater = _Inflater(window_bits)

    def filter(self, bytes: bytes) -> bytes:
        self._inflater.append(bytes + _SYNC_FLUSH_TAIL)
        return self._inflater.decompress(-1)


class DeflateSocket:
    """A socket whose ``send`` deflates (sync-flushed) and whose ``recv`` inflates."""

    _RECV_SIZE = 4096  # bytes asked of the socket per read of compressed data

    def __init__(self, socket) -> None:
        self._socket = socket
        self._logger = get_class_logger(self)
        self._deflater = _Deflater(zlib.MAX_WBITS)
        self._inflater = _Inflater(zlib.MAX_WBITS)

    def recv(self, size: int) -> bytes:
        """Up to ``size`` inflated bytes, as soon as there are any; ``b""`` at the socket's end."""
        if size <= 0:
            raise ValueError(f"size must be positive, not {size}")
        while not (data := self._inflater.decompress(size)):
            received = self._socket.recv(self._RECV_SIZE)
            if not received:
                return b""
            self._inflater.append(received)
        return data

    def sendall(self, bytes: bytes) -> None:
        self.send(bytes)

    def send(self, bytes: bytes) -> int:
        """Deflate and send all of ``bytes``; returns its (uncompressed) length."""
        self._socket.sendall(self._deflater.compress_and_flush(bytes))
        return len(bytes)
