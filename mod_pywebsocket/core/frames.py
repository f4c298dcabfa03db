"""RFC 6455 frames over bytes: parsing, building, masking, close bodies.

Pure functions and a buffer-driven parser with no I/O, so every rule can be
unit-tested and both adapters (mod_python and the standalone socket) share it.
"""

from __future__ import annotations

import io
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from . import accelerators, constants
from .errors import ProtocolError

_DATA_OPCODES = frozenset({constants.OPCODE_CONTINUATION, constants.OPCODE_TEXT, constants.OPCODE_BINARY})
_CONTROL_OPCODES = frozenset({constants.OPCODE_CLOSE, constants.OPCODE_PING, constants.OPCODE_PONG})
MAX_CONTROL_PAYLOAD = 125


@dataclass(slots=True)
class Frame:
    fin: int = 1
    rsv1: int = 0
    rsv2: int = 0
    rsv3: int = 0
    opcode: int = constants.OPCODE_TEXT
    payload: bytes = b""


_REPEATERS: dict[int, int] = {}


def _repeater(words: int) -> int:
    """The integer 0x...000000010000000100000001 with ``words`` ones: mask * this repeats the mask."""
    repeater = _REPEATERS.get(words)
    if repeater is None:
        repeater = ((1 << (32 * words)) - 1) // 0xFFFFFFFF
        if len(_REPEATERS) >= 32:
            _REPEATERS.clear()
        _REPEATERS[words] = repeater
    return repeater


def apply_mask_python(data: bytes | bytearray | memoryview, mask: bytes) -> bytes:
    """XOR ``data`` with the 4-byte ``mask`` repeated, as one big-integer operation.

    A per-byte Python loop runs at ~15 MiB/s; this runs at a few hundred MiB/s.
    The repeated key is built by one multiplication (the repeater is cached per
    length) rather than by materialising the repeated mask bytes.
    """
    n = len(data)
    if n == 0:
        return b""
    words = (n + 3) >> 2
    key = int.from_bytes(mask, "little") * _repeater(words)
    out = (int.from_bytes(data, "little") ^ key).to_bytes(words << 2, "little")
    return out if n == words << 2 else out[:n]


MaskFunction = Callable[[bytes | bytearray | memoryview, bytes], bytes]


apply_mask_c = cast("MaskFunction | None", accelerators.load("_speedups", "apply_mask"))
apply_mask: MaskFunction = apply_mask_c or apply_mask_python


def create_length_header(length: int, mask: bool) -> bytes:
    mask_bit = 0x80 if mask else 0
    if length < 0 or length >= 1 << 63:
        raise ValueError(f"payload length out of range: {length}")
    if length < 126:
        return bytes((mask_bit | length,))
    if length < 1 << 16:
        return struct.pack("!BH", mask_bit | 126, length)
    return struct.pack("!BQ", mask_bit | 127, length)


def create_header(opcode: int, payload_length: int, fin: int, rsv1: int, rsv2: int, rsv3: int, mask: bool) -> bytes:
    first = (fin << 7) | (rsv1 << 6) | (rsv2 << 5) | (rsv3 << 4) | opcode
    return bytes((first,)) + create_length_header(payload_length, mask)


def build_frame(
    opcode: int, payload: bytes = b"", *, fin: bool = True, rsv1: bool = False, mask: bool = False
) -> bytes:
    """Serialise one frame. Servers send unmasked frames; ``mask=True`` is for test clients."""
    first = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
    n = len(payload)
    mask_bit = 0x80 if mask else 0
    if n < 126:
        header = bytes((first, mask_bit | n))
    elif n < 1 << 16:
        header = struct.pack("!BBH", first, mask_bit | 126, n)
    else:
        header = struct.pack("!BBQ", first, mask_bit | 127, n)
    if mask:
        key = os.urandom(4)
        return header + key + apply_mask(payload, key)
    return header + payload


def build_frame_parts(opcode: int, payload: bytes, *, fin: bool = True, rsv1: bool = False) -> tuple[bytes, bytes]:
    """An unmasked frame as ``(header, payload)``: a large payload is written as it is,
    not copied behind its header (the copy would hold the message twice while it goes out)."""
    first = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
    n = len(payload)
    if n < 126:
        return bytes((first, n)), payload
    if n < 1 << 16:
        return struct.pack("!BBH", first, 126, n), payload
    return struct.pack("!BBQ", first, 127, n), payload


class FragmentedFrameBuilder:
    """pywebsocket's builder of a message's frames: ``build(payload, end, binary)`` gives
    the next frame's bytes, a continuation after the first, FIN on the last. Each frame
    goes through ``frame_filters`` (objects with ``filter(frame)``) before it is
    serialised. Sends of this server do not use it; handlers and test clients do."""

    def __init__(self, mask: bool, frame_filters: list[object] | None = None, encode_utf8: bool = True) -> None:
        self._mask = mask
        self._frame_filters = list(frame_filters or ())
        self._encode_utf8 = encode_utf8
        self._started = False
        self._opcode = constants.OPCODE_TEXT

    def build(self, payload_data: bytes | str, end: bool, binary: bool) -> bytes:
        kind = constants.OPCODE_BINARY if binary else constants.OPCODE_TEXT
        if self._started and self._opcode != kind:
            raise ValueError("text and binary fragments mixed in one message")
        opcode = constants.OPCODE_CONTINUATION if self._started else kind
        self._opcode = kind
        self._started = not end
        payload = payload_data.encode("utf-8") if isinstance(payload_data, str) else bytes(payload_data)
        return build_filtered_frame(Frame(int(bool(end)), 0, 0, 0, opcode, payload), self._mask, self._frame_filters)


def build_filtered_frame(frame: Frame, mask: bool, frame_filters: list[object]) -> bytes:
    """``frame`` after each filter's ``filter(frame)``, serialised (masked with ``mask``)."""
    for frame_filter in frame_filters:
        frame_filter.filter(frame)  # type: ignore[attr-defined]
    payload = bytes(frame.payload)
    header = create_header(frame.opcode, len(payload), frame.fin, frame.rsv1, frame.rsv2, frame.rsv3, mask)
    if not mask:
        return header + payload
    key = os.urandom(4)
    return header + key + apply_mask(payload, key)


# Close codes an endpoint may put on the wire (RFC 6455 7.4.1 plus the IANA registry):
# the one rule, for what we receive and what we send.
def is_valid_close_code(code: int) -> bool:
    return code in (1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014) or (3000 <= code <= 4999)


def is_pywebsocket3_close_code(code: int) -> bool:
    """What pywebsocket3 let a handler send: 1000-4999 but the three codes for reporting."""
    return 1000 <= code <= 4999 and code not in (1005, 1006, 1015)


MAX_CLOSE_REASON = MAX_CONTROL_PAYLOAD - 2


@dataclass(frozen=True, slots=True)
class Close:
    """A close frame's body (RFC 6455 5.5.1), received or to be sent.

    ``code`` is 1005 (STATUS_NO_STATUS_RECEIVED) and ``reason`` None for the empty body.
    ``check()`` is the rule both ways: ``parse`` applies it to what a peer sent, and the
    connection applies it before sending, so this server never sends a close it would
    fail a peer for. ``payload`` is the body as it came (b"" for one built here).
    """

    code: int = constants.STATUS_NO_STATUS_RECEIVED
    reason: str | None = None
    payload: bytes = b""

    @classmethod
    def parse(cls, payload: bytes, *, any_code: bool = False) -> Close:
        """A received close's body; ``ProtocolError`` (1002, or 1007 for a reason that is not
        UTF-8) if no endpoint may send it. ``any_code``: as pywebsocket3 read a close (any
        code, the reason decoded with replacement characters; only a 1-byte body fails)."""
        if not payload:
            return cls(payload=payload)
        if len(payload) == 1:
            raise ProtocolError(constants.STATUS_PROTOCOL_ERROR, "close frame with a 1-byte body")
        code = int.from_bytes(payload[:2], "big")
        if any_code:
            return cls(code, payload[2:].decode("utf-8", "replace"), payload)
        try:
            close = cls(code, payload[2:].decode("utf-8"), payload)
            close.check()
        except UnicodeDecodeError:
            raise ProtocolError(constants.STATUS_INVALID_FRAME_PAYLOAD_DATA, "close reason is not UTF-8") from None
        except ValueError as e:
            if is_valid_close_code(code):
                raise ProtocolError(constants.STATUS_PROTOCOL_ERROR, str(e)) from None
            error = ProtocolError(constants.STATUS_PROTOCOL_ERROR, f"invalid close code {code}")
            error.peer_close_code = code  # what the peer sent, for harnesses that judge it
            raise error from None
        return close

    @classmethod
    def to_send(cls, code: int | None, reason: str = "", *, any_code: bool = False) -> Close:
        """The close a handler asks for (``code=None``: the empty body), checked; ``ValueError``
        saying why if it may not be sent. ``any_code``: pywebsocket3's rule for sending."""
        if code is None:
            if reason:
                raise ValueError("a close reason needs a status code")
            return cls()
        close = cls(code, reason or "")
        close.check(any_code=any_code)
        return close

    def check(self, *, any_code: bool = False) -> None:
        """``ValueError`` if no endpoint may send this close (RFC 6455 7.4)."""
        if self.code == constants.STATUS_NO_STATUS_RECEIVED and self.reason is None:
            return  # the empty body
        if not (is_pywebsocket3_close_code if any_code else is_valid_close_code)(self.code):
            raise ValueError(
                f"status code {self.code} cannot be sent in a close frame "
                "(RFC 6455 7.4: 1000-1003, 1007-1014 or 3000-4999; a peer sending it is failed with 1002)"
            )
        if len((self.reason or "").encode("utf-8")) > MAX_CLOSE_REASON:
            raise ValueError(f"close reason longer than {MAX_CLOSE_REASON} bytes")

    def serialize(self) -> bytes:
        if self.code == constants.STATUS_NO_STATUS_RECEIVED and self.reason is None:
            return b""
        return struct.pack("!H", self.code) + (self.reason or "").encode("utf-8")


#: A frame with a payload this big that has not fully arrived is gathered into a buffer
#: of its own as the bytes come, unmasked on the way: the parser's buffer then never
#: holds it, and the frame costs about 1.1x its payload instead of 2x (the buffer, then
#: the unmasked copy).
LARGE_PAYLOAD = 1 << 20


def _key_at(key: bytes, offset: int) -> bytes:
    """The masking key for a piece of payload that starts ``offset`` bytes in: the mask
    goes on where the last piece ended."""
    turn = offset & 3
    return key[turn:] + key[:turn]


class _LargePayload:
    """The payload of one large frame in progress (see ``LARGE_PAYLOAD``).

    Its buffer grows by doubling, up to the frame's length, ahead of the bytes: BytesIO
    alone grows to the exact size of each write, one realloc per read, and whether each
    copies the buffer depends on the allocator's state (measured on the standalone
    server, a 1 MiB echo: 1.2 or 1.55 ms of server CPU from one process to the next).
    At most twice what has arrived is held, never more than the frame's length.
    """

    __slots__ = ("b0", "header", "key", "length", "received", "buffer", "capacity")

    def __init__(self, b0: int, header: int, key: bytes | None, length: int) -> None:
        self.b0, self.header, self.key, self.length = b0, header, key, length
        self.received = 0
        self.buffer = io.BytesIO()
        self.capacity = 0

    def absorb(self, data: bytes | bytearray | memoryview) -> memoryview:
        """Take what belongs to the payload; return the rest (the next frames' bytes)."""
        view = memoryview(data)
        n = min(len(view), self.length - self.received)
        chunk = view[:n]
        end = self.received + n
        if end > self.capacity:
            self._grow(end)
        if self.key is not None:
            self.buffer.write(apply_mask(chunk, _key_at(self.key, self.received)))
        else:
            self.buffer.write(chunk)
        self.received = end
        return view[n:]

    def _grow(self, end: int) -> None:
        """Make the buffer at least ``end`` bytes long: twice as long, within the frame."""
        buffer = self.buffer
        self.capacity = capacity = min(self.length, max(end, 2 * self.capacity, 64 * 1024))
        buffer.seek(capacity - 1)
        buffer.write(b"\0")  # BytesIO resizes to exactly this: one realloc
        buffer.seek(self.received)

    def frame(self) -> Frame:
        b0 = self.b0
        # getvalue() hands the buffer over without a copy (it is exactly ``length`` long).
        return Frame(b0 >> 7, (b0 >> 6) & 1, (b0 >> 5) & 1, (b0 >> 4) & 1, b0 & 0x0F, self.buffer.getvalue())


class FrameParser:
    """Incremental frame parser: ``feed()`` bytes, then take frames with ``next_frame()``.

    It checks everything that can be checked on one frame: reserved bits and
    opcodes, control-frame size and fragmentation, client masking and the
    payload size limit (checked on the header, before the payload is buffered).
    """

    def __init__(self, *, require_mask: bool = True, max_payload: int | None = None) -> None:
        self.require_mask = require_mask
        self.max_payload = max_payload
        self.allow_rsv1 = False  # set by permessage-deflate once negotiated
        # The close code for reserved bits and opcodes: 1002 (RFC 6455 5.2); pywebsocket3
        # answered 1003 (``runtime.compat``'s pywebsocket3 profile sets it).
        self.reserved_code = constants.STATUS_PROTOCOL_ERROR
        self._buf = bytearray()
        self._pos = 0
        self._large: _LargePayload | None = None
        self._seen = 0  # payload bytes of the frame in progress handed out by take_partial_payload
        # The first byte (FIN, RSV, opcode) of a frame whose header ``next_frame`` has checked
        # and whose payload has not all arrived; -1 when there is none. An attribute, not a
        # method: the core looks at it after every read (a call there cost 2 % of a 16-byte echo).
        self.partial_head = -1

    def feed(self, data: bytes) -> None:
        large = self._large
        if large is not None and large.received < large.length:
            rest = large.absorb(data)
            if not rest:
                return
            data = rest  # type: ignore[assignment]
        if self._pos and self._pos >= len(self._buf) >> 1:
            del self._buf[: self._pos]
            self._pos = 0
        self._buf += data

    def buffered(self) -> int:
        """Bytes received and not yet taken as frames (or raw)."""
        large = self._large
        extra = 0 if large is None else large.header + large.received
        return len(self._buf) - self._pos + extra

    def _declared(self) -> tuple[int, int]:
        """``(header, length)`` of the frame at the head of the buffer: its header's bytes
        (mask included) and its payload length. While the length field has not all
        arrived the length is -1 and ``header`` is the bytes that field needs."""
        buf, pos = self._buf, self._pos
        avail = len(buf) - pos
        if avail < 2:
            return 2, -1
        length = buf[pos + 1] & 0x7F
        header = 2
        if length == 126:
            if avail < 4:
                return 4, -1
            length = (buf[pos + 2] << 8) | buf[pos + 3]
            header = 4
        elif length == 127:
            if avail < 10:
                return 10, -1
            length = int.from_bytes(buf[pos + 2 : pos + 10], "big")
            header = 10
        if buf[pos + 1] & 0x80:
            header += 4
        return header, length

    def frame_length(self) -> int:
        """The payload length the frame in progress declared (0 before its header is in)."""
        if self._large is not None:
            return self._large.length
        return max(self._declared()[1], 0)

    def needed(self) -> int:
        """The fewest bytes that let the frame at the head of the buffer progress.

        Two for the header, then the rest of the extended length, then the mask and
        payload: a connection whose ``read(n)`` blocks for exactly ``n`` bytes (a pipe,
        a buffered file) is never asked for a byte the peer has no reason to send.
        Readers of sockets use it as a lower bound and read more.
        """
        large = self._large
        if large is not None:
            return large.length - large.received
        header, length = self._declared()
        avail = len(self._buf) - self._pos
        if length < 0:
            return header - avail
        return max(0, header + length - avail)

    def take_partial_payload(self) -> tuple[int, bytes]:
        """``(offset, piece)``: the payload bytes of the frame in progress (see
        ``partial_head``) that arrived since the last call, unmasked, and where in
        the payload they start. The frame stays in the parser; ``next_frame`` still
        returns it whole. This is what lets a text frame's UTF-8 be checked as it comes."""
        offset = self._seen
        large = self._large
        if large is not None:
            # Read back, then write on where the payload ends (a getbuffer() view would
            # make every later write reallocate: measured 4x slower gathering).
            buffer = large.buffer
            buffer.seek(offset)
            piece = buffer.read(large.received - offset)
            buffer.seek(large.received)  # where the next bytes go (the buffer runs ahead)
        else:
            buf, pos = self._buf, self._pos
            header, length = self._declared()
            start = pos + header + offset
            end = pos + header + min(length, len(buf) - pos - header)
            if end <= start:
                return offset, b""
            if buf[pos + 1] & 0x80:
                key = bytes(buf[pos + header - 4 : pos + header])
                piece = apply_mask(memoryview(buf)[start:end], _key_at(key, offset))
            else:
                piece = bytes(buf[start:end])
        self._seen = offset + len(piece)
        return offset, piece

    def take_raw(self, n: int) -> bytes:
        """Remove up to ``n`` unparsed bytes (for handlers that read the raw connection)."""
        data = bytes(self._buf[self._pos : self._pos + n])
        self._pos += len(data)
        self.partial_head = -1  # whatever frame was in progress is the handler's now
        self._seen = 0
        return data

    def next_frame(self, checked: bool = True) -> Frame | None:
        """The next whole frame, or None until more bytes arrive.

        ``checked=False`` is for handlers that read raw frames (pywebsocket's
        ``_receive_frame``): only the masking rule and the size limit are checked, and
        a frame with reserved bits or opcodes is handed over as it came.
        """
        large = self._large
        if large is not None:
            if large.received < large.length:
                return None
            self._large = None
            self._seen = 0
            self.partial_head = -1
            return large.frame()
        buf = self._buf
        pos = self._pos
        avail = len(buf) - pos
        if avail < 2:
            return None
        b0 = buf[pos]
        b1 = buf[pos + 1]
        opcode = b0 & 0x0F
        length = b1 & 0x7F
        header = 2
        if length == 126:
            if avail < 4:
                return None
            length = (buf[pos + 2] << 8) | buf[pos + 3]
            header = 4
        elif length == 127:
            if avail < 10:
                return None
            length = int.from_bytes(buf[pos + 2 : pos + 10], "big")
            header = 10
            if length >> 63:
                raise ProtocolError(constants.STATUS_PROTOCOL_ERROR, "payload length has its top bit set")
        if checked:
            self._check_header(b0, b1, opcode, length)
        else:
            self._check_mask_and_size(b1, length)
        masked = b1 & 0x80
        if masked:
            header += 4
        end = pos + header + length
        if len(buf) < end:
            if avail >= header:
                self.partial_head = b0
                if length >= LARGE_PAYLOAD:
                    self._start_large(b0, header, length, bool(masked))
            return None
        if masked:
            key = bytes(buf[pos + header - 4 : pos + header])
            payload = apply_mask(memoryview(buf)[pos + header : end], key)
        else:
            payload = bytes(buf[pos + header : end])
        self._pos = end
        self._seen = 0
        self.partial_head = -1
        if end == len(buf):
            buf.clear()
            self._pos = 0
        return Frame(b0 >> 7, (b0 >> 6) & 1, (b0 >> 5) & 1, (b0 >> 4) & 1, opcode, payload)

    def _start_large(self, b0: int, header: int, length: int, masked: bool) -> None:
        """Move the large frame at the head of the buffer into a buffer of its own."""
        buf, pos = self._buf, self._pos
        key = bytes(buf[pos + header - 4 : pos + header]) if masked else None
        self._large = large = _LargePayload(b0, header, key, length)
        large.absorb(memoryview(buf)[pos + header :])  # all of the buffer: the frame has not ended
        buf.clear()
        self._pos = 0

    def _check_header(self, b0: int, b1: int, opcode: int, length: int) -> None:
        rsv = b0 & 0x70
        if rsv and (rsv != 0x40 or not self.allow_rsv1):
            raise ProtocolError(self.reserved_code, f"reserved bits set: {rsv >> 4:#05b}")
        if opcode in _CONTROL_OPCODES:
            if not b0 & 0x80:
                raise ProtocolError(constants.STATUS_PROTOCOL_ERROR, "fragmented control frame")
            if length > MAX_CONTROL_PAYLOAD:
                raise ProtocolError(constants.STATUS_PROTOCOL_ERROR, "control frame payload over 125 bytes")
            if rsv:
                raise ProtocolError(constants.STATUS_PROTOCOL_ERROR, "reserved bits set on a control frame")
        elif opcode not in _DATA_OPCODES:
            raise ProtocolError(self.reserved_code, f"reserved opcode {opcode:#x}")
        self._check_mask_and_size(b1, length)

    def _check_mask_and_size(self, b1: int, length: int) -> None:
        if self.require_mask and not b1 & 0x80:
            raise ProtocolError(constants.STATUS_PROTOCOL_ERROR, "client frame is not masked")
        if self.max_payload is not None and length > self.max_payload:
            raise ProtocolError(constants.STATUS_MESSAGE_TOO_BIG, f"frame of {length} bytes exceeds the limit")
