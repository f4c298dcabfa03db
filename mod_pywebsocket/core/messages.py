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
from dataclasses import dataclass

from . import constants
from .errors import ProtocolError
from .frames import Frame, parse_close_body, parse_close_body_leniently

_Utf8Decoder = codecs.getincrementaldecoder("utf-8")
# inflate(data, final, limit): a compressed payload back to plain bytes, at most ``limit`` of them.
Inflate = Callable[[bytes, bool, "int | None"], bytes]


@dataclass(slots=True)
class Message:
    opcode: int  # OPCODE_TEXT or OPCODE_BINARY
    data: str | bytes


@dataclass(slots=True)
class Control:
    opcode: int  # OPCODE_PING or OPCODE_PONG
    payload: bytes


@dataclass(slots=True)
class Close:
    code: int  # 1005 when the body was empty
    reason: str | None
    payload: bytes


Event = Message | Control | Close
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

    @property
    def in_message(self) -> bool:
        return self._opcode is not None

    @property
    def assembled(self) -> int:
        """Bytes of the message in progress so far (after inflating; 0 between messages)."""
        return self._size if self._opcode is not None else 0

    def process(self, frame: Frame) -> Event | None:
        opcode = frame.opcode
        if frame.fin and not frame.rsv1 and self._opcode is None and opcode in _DATA_OPCODES:
            return self._whole_message(opcode, frame.payload)  # most messages: one plain frame
        if opcode >= constants.OPCODE_CLOSE and self._opcode is not None and not self.controls_between_fragments:
            raise ProtocolError(constants.STATUS_PROTOCOL_ERROR, "control frame inside a fragmented message")
        if opcode == constants.OPCODE_CLOSE:
            parse = parse_close_body if self.strict_close else parse_close_body_leniently
            code, reason = parse(frame.payload)
            return Close(code, reason, frame.payload)
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
            try:
                self._texts.append(self._decoder.decode(payload, bool(frame.fin)))
            except UnicodeDecodeError:
                raise ProtocolError(constants.STATUS_INVALID_FRAME_PAYLOAD_DATA, "text message is not UTF-8") from None
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
            raise ProtocolError(constants.STATUS_INVALID_FRAME_PAYLOAD_DATA, "text message is not UTF-8") from None

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
