"""Frames to messages, with no I/O: fragmentation, UTF-8 and size rules.

``MessageAssembler.process(frame)`` returns an event for each complete message
or control frame and raises ``ProtocolError`` with the close code to fail the
connection with (1002, 1007 or 1009). Control frames may arrive between the
fragments of a message (RFC 6455 section 5.4).
"""

from __future__ import annotations

import codecs
import io
from collections.abc import Callable
from dataclasses import dataclass, field

from . import constants
from .errors import ProtocolError
from .frames import Close, Frame

_Utf8Decoder = codecs.getincrementaldecoder("utf-8")
# inflate(data, final, limit): a compressed payload back to plain bytes, at most ``limit`` of them.
Inflate = Callable[[bytes, bool, "int | None"], bytes]
# A throwaway inflater that goes on from where the message's own inflater is: it takes
# the next pieces of compressed payload and gives what they inflate to, at most
# ``limit`` bytes, or None once it cannot tell (its output would pass the limit).
InflateAhead = Callable[[bytes, "int | None"], "bytes | None"]


@dataclass(slots=True)
class Message:
    opcode: int  # OPCODE_TEXT or OPCODE_BINARY
    data: str | bytes


@dataclass(slots=True)
class Control:
    opcode: int  # OPCODE_PING or OPCODE_PONG
    payload: bytes


Event = Message | Control | Close


@dataclass(slots=True)
class _TextAhead:
    """What ``MessageAssembler.check_partial_text`` knows of the text frame in progress."""

    decoder: codecs.IncrementalDecoder | None  # None: given up on (the frame's end tells)
    inflate: InflateAhead | None  # a compressed message's throwaway inflater
    inflated: int  # the message's bytes so far, counting what the inflater gave
    keep: bool  # what is decoded is kept (uncompressed, and under KEEP_DECODED_BELOW)
    texts: list[str] = field(default_factory=list)  # what was decoded, when kept
    taken: int = 0  # the payload bytes decoded into ``texts``


#: A text frame at least this big that is checked as it arrives is decoded again once
#: whole rather than kept in pieces: the pieces and their join would hold the text
#: twice beside the frame's bytes (a 64 MiB message: 192 MiB at the join instead of 128).
KEEP_DECODED_BELOW = 1 << 20


_DATA_OPCODES = (constants.OPCODE_TEXT, constants.OPCODE_BINARY)  # a message's first frame


class MessageAssembler:
    """Reassemble data frames into messages, validating text as it arrives.

    ``inflate`` (set when permessage-deflate is active) turns the payload of a
    compressed message (RSV1 on its first frame) back into plain bytes:
    ``inflate(data, final, limit)`` may produce at most ``limit`` bytes.
    """

    def __init__(self, max_message_size: int | None = None) -> None:
        self.max_message_size = max_message_size
        self.inflate: Inflate | None = None
        self.inflate_ahead: Callable[[], InflateAhead] | None = None
        # What RFC 6455 asks (both True); pywebsocket3 failed a control frame between
        # fragments with 1002 and took any close code and reason (its profile clears both).
        self.controls_between_fragments = True
        self.strict_close = True
        self._opcode: int | None = None
        self._compressed = False
        self._texts: list[str] = []  # the decoded pieces of a text message
        # A binary message in one frame is that frame's payload, as it is. A fragmented one
        # is written into one buffer: joining a list of fragments at the end holds the
        # message twice (measured: 120 MiB extra for a 60 MiB message from 1 MiB
        # fragments; BytesIO, whose getvalue() hands its buffer over, 61 MiB).
        self._whole: bytes | None = None
        self._buffer: io.BytesIO | None = None
        self._size = 0
        self._decoder: codecs.IncrementalDecoder | None = None
        self._ahead: _TextAhead | None = None  # a text frame's payload checked as it arrives

    @property
    def in_message(self) -> bool:
        return self._opcode is not None

    @property
    def assembled(self) -> int:
        """Bytes of the message in progress so far (after inflating; 0 between messages)."""
        return self._size if self._opcode is not None else 0

    def is_text_frame(self, b0: int) -> bool:
        """Whether a frame whose first byte is ``b0`` carries text: a text frame between
        messages, or a continuation of a text message."""
        opcode = b0 & 0x0F
        if opcode == constants.OPCODE_TEXT:
            return self._opcode is None and (not b0 & 0x40 or self.inflate_ahead is not None)
        return opcode == constants.OPCODE_CONTINUATION and self._opcode == constants.OPCODE_TEXT

    def check_partial_text(self, b0: int, offset: int, piece: bytes, frame_length: int) -> None:
        """Check the next ``piece`` of a text frame that has not all arrived (``offset``: where
        it starts in the frame's payload), so invalid UTF-8 fails the connection (1007) when
        it arrives, not when the frame ends (RFC 6455 8.1; Autobahn 6.4.3 and 6.4.4 hold a
        frame back after its invalid bytes).

        A decoder started from where the message's own is takes the pieces. For a frame
        under ``KEEP_DECODED_BELOW`` bytes, uncompressed, what it decodes is kept, and
        ``process`` decodes only the rest of the frame (no byte is decoded twice). Larger
        frames are decoded again once whole (memory before time, see KEEP_DECODED_BELOW).
        With permessage-deflate a throwaway inflater first inflates the pieces, and the
        frame is inflated and decoded again once whole: zlib's state cannot be handed back."""
        ahead = self._ahead
        if offset == 0:
            continuing = (b0 & 0x0F) == constants.OPCODE_CONTINUATION
            decoder = _Utf8Decoder()
            if continuing and self._decoder is not None:
                decoder.setstate(self._decoder.getstate())
            compressed = self._compressed if continuing else bool(b0 & 0x40)
            inflate = self.inflate_ahead() if compressed and self.inflate_ahead is not None else None
            keep = inflate is None and frame_length < KEEP_DECODED_BELOW
            self._ahead = ahead = _TextAhead(decoder, inflate, self._size if continuing else 0, keep)
        if ahead is None or ahead.decoder is None:
            return  # given up on this frame (see _TextAhead.inflate): its end is checked whole
        if ahead.inflate is not None:
            limit = None if self.max_message_size is None else self.max_message_size - ahead.inflated
            inflated = ahead.inflate(piece, limit)
            if inflated is None:
                ahead.decoder = None
                return
            piece = inflated
            ahead.inflated += len(piece)
        text = _decode(ahead.decoder, piece, False)
        if ahead.keep:
            ahead.texts.append(text)
            ahead.taken += len(piece)

    def forget_partial(self) -> None:
        """The frame in progress was taken another way (raw): what was checked of it goes."""
        self._ahead = None

    def process(self, frame: Frame) -> Event | None:
        opcode = frame.opcode
        ahead = self._ahead  # set when the frame's text was checked as it came
        if ahead is None and frame.fin and not frame.rsv1 and self._opcode is None and opcode in _DATA_OPCODES:
            return self._whole_message(opcode, frame.payload)  # most messages: one plain frame
        self._ahead = None
        if opcode >= constants.OPCODE_CLOSE and self._opcode is not None and not self.controls_between_fragments:
            raise ProtocolError(constants.STATUS_PROTOCOL_ERROR, "control frame inside a fragmented message")
        if opcode == constants.OPCODE_CLOSE:
            return Close.parse(frame.payload, any_code=not self.strict_close)
        if opcode == constants.OPCODE_PING or opcode == constants.OPCODE_PONG:
            return Control(opcode, frame.payload)
        if opcode == constants.OPCODE_CONTINUATION:
            if self._opcode is None:
                raise ProtocolError(constants.STATUS_PROTOCOL_ERROR, "continuation frame with no message to continue")
            if frame.rsv1:
                raise ProtocolError(constants.STATUS_PROTOCOL_ERROR, "RSV1 set on a continuation frame")
        else:
            if self._opcode is not None:
                raise ProtocolError(constants.STATUS_PROTOCOL_ERROR, "new data frame inside a fragmented message")
            if frame.rsv1 and self.inflate is None:
                raise ProtocolError(constants.STATUS_PROTOCOL_ERROR, "RSV1 set with no extension negotiated")
            self._opcode = opcode
            self._compressed = bool(frame.rsv1)
            self._decoder = _Utf8Decoder() if opcode == constants.OPCODE_TEXT else None
            self._texts = []
            self._buffer = None
            self._size = 0
        payload = frame.payload
        if self._compressed:
            limit = None if self.max_message_size is None else self.max_message_size - self._size
            assert self.inflate is not None  # checked on the message's first frame
            payload = self.inflate(payload, bool(frame.fin), limit)
        self._size += len(payload)
        if self.max_message_size is not None and self._size > self.max_message_size:
            raise ProtocolError(constants.STATUS_MESSAGE_TOO_BIG, f"message exceeds {self.max_message_size} bytes")
        if self._decoder is not None:
            text: bytes | memoryview = payload
            if ahead is not None and ahead.keep and ahead.decoder is not None:
                # Part of this frame was decoded as it arrived: go on from there.
                self._decoder = ahead.decoder
                self._texts += ahead.texts
                text = memoryview(payload)[ahead.taken :]
            self._texts.append(_decode(self._decoder, text, bool(frame.fin)))
        elif frame.fin and self._buffer is None:
            self._whole = payload  # a whole message in one frame: no copy
        else:
            if self._buffer is None:
                self._buffer = io.BytesIO()
            self._buffer.write(payload)
        if not frame.fin:
            return None
        opcode = self._opcode
        assert opcode is not None
        return Message(opcode, self._take_message())

    def _whole_message(self, opcode: int, payload: bytes) -> Message:
        """A message in one uncompressed frame: the same rules, fewer steps."""
        if self.max_message_size is not None and len(payload) > self.max_message_size:
            raise ProtocolError(constants.STATUS_MESSAGE_TOO_BIG, f"message exceeds {self.max_message_size} bytes")
        if opcode == constants.OPCODE_BINARY:
            return Message(opcode, payload)
        try:
            return Message(opcode, payload.decode("utf-8"))
        except UnicodeDecodeError:
            raise _not_utf8() from None

    def _take_message(self) -> str | bytes:
        texts, whole, buffer = self._texts, self._whole, self._buffer
        is_text = self._decoder is not None
        self._opcode = None
        self._texts = []
        self._whole = None
        self._buffer = None
        self._decoder = None
        if is_text:
            return texts[0] if len(texts) == 1 else "".join(texts)
        if buffer is not None:
            return buffer.getvalue()
        assert whole is not None
        return whole


def _not_utf8() -> ProtocolError:
    return ProtocolError(constants.STATUS_INVALID_FRAME_PAYLOAD_DATA, "text message is not UTF-8")


def _decode(decoder: codecs.IncrementalDecoder, data: bytes | memoryview, final: bool) -> str:
    """The next piece of a text message; 1007 when it is not UTF-8."""
    try:
        return decoder.decode(data, final)
    except UnicodeDecodeError:
        raise _not_utf8() from None
