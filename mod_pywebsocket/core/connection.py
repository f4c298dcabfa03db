"""The server's side of one WebSocket connection, with no I/O: state, both directions, every rule.

``ServerConnection`` takes bytes in (``receive_data``) and gives events out
(``next_event``: ``Message``, ``Control`` for pings and pongs, ``Close``); every
``send_*`` method returns the bytes to write and changes the state in the same
step. It has no sockets, threads or clocks: the blocking adapter (``stream.Stream``)
locks around "ask the core for bytes, write them", so the ordering rules below hold
whatever threads a handler uses, and unit tests, property tests and fuzzers drive
this same object.

The state is explicit (``State``): OPEN, then CLOSING once either side's close frame
has gone by, then CLOSED once both have (or the connection failed). Rules it keeps:

* nothing after our close frame: data frames sent after it raise ``InvalidState``
  (RFC 6455 section 5.5.1 forbids them); so do pings and pongs, which the RFC does
  not forbid there, because a peer that has our close may already have closed TCP,
  and no client waits for a pong once it has our close;
* a fragmented message keeps one opcode, continuations follow the first frame,
  and compression (permessage-deflate) is decided once per message;
* only closes an endpoint may send (``frames.Close.check``: the rule a received close is
  held to, so we never send what we would fail a peer for);
* failing the connection (``fail``) sends one close with the failure's code.

``send_frame_unchecked`` is the one way around those rules, for harnesses that test
clients with frames the protocol forbids (bad UTF-8, reserved bits or opcodes,
fragmented or oversized control frames, any close code, frames after a close); it
changes no state and normal sends never go through it.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Callable

from . import constants
from .deflate import PerMessageDeflate
from .errors import BadOperationException, ConnectionTerminatedException, ProtocolError
from .frames import (
    MAX_CLOSE_REASON,
    MAX_CONTROL_PAYLOAD,
    Close,
    Frame,
    FrameParser,
    apply_mask,
    build_filtered_frame,
    build_frame,
    build_frame_parts,
    create_header,
)
from .messages import Event, Message, MessageAssembler

#: Changes a frame about to be sent in place (pywebsocket's outgoing frame filters).
FrameFilter = Callable[[Frame], None]

DEFAULT_MAX_MESSAGE_SIZE = 64 * 1024 * 1024


class State(enum.Enum):
    OPEN = "open"
    CLOSING = "closing"  # one close frame has gone by (ours or the peer's)
    CLOSED = "closed"  # both have, or the connection failed


class InvalidState(BadOperationException):
    """A send the connection's state does not allow (data or a ping after our close)."""


def close_to_send(code: int | None, reason: str = "", *, any_code: bool = False) -> Close:
    """``Close.to_send`` with the error a handler gets: ``BadOperationException``."""
    try:
        return Close.to_send(code, reason, any_code=any_code)
    except ValueError as e:
        raise BadOperationException(str(e)) from None


def _truncate_utf8(text: str, limit: int) -> str:
    """At most ``limit`` bytes of ``text`` in UTF-8, cut on a character boundary."""
    data = text.encode("utf-8")
    return text if len(data) <= limit else data[:limit].decode("utf-8", "ignore")


class ServerConnection:
    """One connection's protocol state; see the module's docstring."""

    def __init__(
        self,
        *,
        max_message_size: int | None = DEFAULT_MAX_MESSAGE_SIZE,
        require_mask: bool = True,
        mask_send: bool = False,
        deflate: PerMessageDeflate | None = None,
        pywebsocket3_rules: bool = False,
        outgoing_frame_filter: FrameFilter | None = None,
    ) -> None:
        """``pywebsocket3_rules``: answer as pywebsocket3 did where it and RFC 6455 differ
        (reserved bits and opcodes fail with 1003, a control frame between fragments with
        1002, any close code and reason is taken); see ``runtime.compat``.
        ``outgoing_frame_filter``: when an extension installed pywebsocket-style frame
        filters, every frame we send goes through it before it is serialised."""
        self._parser = FrameParser(require_mask=require_mask, max_payload=max_message_size)
        self.any_close_code = pywebsocket3_rules  # send what pywebsocket3 let handlers send
        self._assembler = MessageAssembler(max_message_size)
        if pywebsocket3_rules:
            self._parser.reserved_code = constants.STATUS_UNSUPPORTED_DATA
            self._assembler.controls_between_fragments = False
            self._assembler.strict_close = False
        self.outgoing_frame_filter = outgoing_frame_filter
        self._deflate = deflate
        if deflate is not None:
            self._parser.allow_rsv1 = True
            self._assembler.inflate = deflate.decompress
            self._assembler.inflate_ahead = deflate.inflate_ahead
        self._mask_send = mask_send
        self._sending_opcode: int | None = None  # the message being sent in fragments
        self._compressing = False  # whether that message is compressed
        self.close_sent = False
        self.close_received = False
        self.failed = False
        self.close_expected = False  # see expect_close
        self.announced_close: Close | None = None  # see stop_sending
        self._outgoing = b""  # see data_to_send
        self.close_code: int | None = None  # what the peer's close said (1005: no code)
        self.close_reason: str | None = None
        self.sent_close_code: int | None = None  # what ours said (1005: no code)
        self.sent_close_reason: str | None = None
        self.messages_received = 0  # whole data messages, each way (the connection's summary)
        self.messages_sent = 0

    @property
    def state(self) -> State:
        if self.failed or (self.close_sent and self.close_received):
            return State.CLOSED
        if self.close_sent or self.close_received:
            return State.CLOSING
        return State.OPEN

    # -- receiving -------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        self._parser.feed(data)

    def needed(self) -> int:
        """The fewest bytes that let the next frame progress (see ``FrameParser.needed``)."""
        return self._parser.needed()

    def buffering(self) -> int:
        """What the message being received will hold once the frame in progress is in:
        its bytes so far plus that frame's declared payload (for a memory budget)."""
        return self._assembler.assembled + self._parser.frame_length()

    def take_raw(self, n: int) -> bytes:
        """Up to ``n`` received bytes not parsed yet (for handlers that read raw)."""
        self._assembler.forget_partial()
        return self._parser.take_raw(n)

    def next_frame_unchecked(self) -> Frame | None:
        """The next frame as it came (masking and size checked, nothing else), or None
        until more bytes arrive: for handlers that read raw frames. The frame bypasses
        message assembly; a close among them is reported with ``record_close``."""
        self._check_can_receive()
        self._assembler.forget_partial()
        try:
            return self._parser.next_frame(checked=False)
        except ProtocolError as e:
            self._fail_on(e)
            raise

    def record_close(self, payload: bytes) -> Close:
        """A close frame's body that a handler read itself: parsed as pywebsocket3 did
        (any code; only a 1-byte body is an error), and the close counts as received."""
        close = Close.parse(payload, any_code=True)
        self.close_received = True
        self.close_code, self.close_reason = close.code, close.reason
        return close

    def next_event(self) -> Event | None:
        """The next event in what was received, or None until more bytes arrive.

        When the peer broke a rule, the connection fails itself (``fail``, with the
        error's code) and raises the ``ProtocolError``: the close to send is then in
        ``data_to_send()``. After a failure or a lost connection there are no events:
        ``ConnectionTerminatedException``.
        """
        if self.failed:  # _check_can_receive, inline: this runs after every read
            raise ConnectionTerminatedException("the connection has already failed")
        parser, assembler = self._parser, self._assembler
        try:
            while (frame := parser.next_frame()) is not None:
                event = assembler.process(frame)  # None: a fragment, the message goes on
                if event is not None:
                    if type(event) is Message:
                        self.messages_received += 1
                    elif type(event) is Close:
                        self.close_received = True
                        self.close_code, self.close_reason = event.code, event.reason
                    return event
            b0 = parser.partial_head
            if b0 >= 0 and assembler.is_text_frame(b0):
                offset, piece = parser.take_partial_payload()
                assembler.check_partial_text(b0, offset, piece, parser.frame_length())
        except ProtocolError as e:
            self._fail_on(e)
            raise
        return None

    def _check_can_receive(self) -> None:
        if self.failed:
            raise ConnectionTerminatedException("the connection has already failed")

    def _fail_on(self, error: ProtocolError) -> None:
        self._outgoing += self.fail(error.code, error.reason)

    def data_to_send(self) -> bytes:
        """Bytes the connection produced on its own (the close of a failure it found while
        receiving), to be written now; each call hands them over once."""
        data, self._outgoing = self._outgoing, b""
        return data

    def receive_eof(self) -> None:
        """The transport ended before the closing handshake did (end of stream, a reset, a
        timeout, a failed write): the connection is CLOSED, abnormally (1006 for the
        handler), and nothing more is received or sent on it."""
        self.failed = True

    def expect_close(self) -> None:
        """A close is on its way (a thread waits to send it): from now on data, pings and
        pongs are refused (``InvalidState``), so senders that loop give way to it."""
        self.close_expected = True

    def stop_sending(self, code: int, reason: str = "") -> None:
        """A stopping server's close: sends are refused from now on, and the next close this
        connection sends, whoever asks for it, carries ``code`` and ``reason``."""
        self.announced_close = close_to_send(code, reason, any_code=self.any_close_code)
        self.close_expected = True

    # -- sending ---------------------------------------------------------------

    def _check_can_send(self, what: str) -> None:
        if self.close_sent:
            raise InvalidState(f"{what} after the closing handshake was sent")
        if self.close_expected:
            raise InvalidState("the closing handshake is being sent")

    def send_message(self, payload: bytes, binary: bool, end: bool = True) -> bytes:
        """A message, or with ``end=False`` one fragment of it (later calls continue it)."""
        header, rest = self.send_message_parts(payload, binary, end)
        return header + rest

    def send_message_parts(self, payload: bytes, binary: bool, end: bool = True) -> tuple[bytes, bytes]:
        """``send_message`` as ``(header, payload)``, to be written in that order: a large
        payload goes out as it is, not copied behind its header. With ``mask_send`` the
        first part is the whole frame and the second is empty."""
        self._check_can_send("send_message")
        opcode = constants.OPCODE_BINARY if binary else constants.OPCODE_TEXT
        first = self._sending_opcode is None
        if not first and self._sending_opcode != opcode:
            raise BadOperationException("text and binary fragments mixed in one message")
        if first:
            self._compressing = self._deflate is not None and self._deflate.compress_outgoing
        if self._compressing and self._deflate is not None:
            payload = self._deflate.compress(payload, end)
        self._sending_opcode = None if end else opcode
        self.messages_sent += end
        frame_opcode = opcode if first else constants.OPCODE_CONTINUATION
        rsv1 = self._compressing and first
        if self.outgoing_frame_filter is not None:
            return self._filtered(Frame(int(end), int(rsv1), 0, 0, frame_opcode, payload)), b""
        if self._mask_send:
            return build_frame(frame_opcode, payload, fin=end, rsv1=rsv1, mask=True), b""
        return build_frame_parts(frame_opcode, payload, fin=end, rsv1=rsv1)

    def _control(self, opcode: int, payload: bytes) -> bytes:
        if len(payload) > MAX_CONTROL_PAYLOAD:
            raise BadOperationException("a control frame's payload must be 125 bytes or fewer")
        if self.outgoing_frame_filter is not None:
            return self._filtered(Frame(1, 0, 0, 0, opcode, payload))
        return build_frame(opcode, payload, mask=self._mask_send)

    def _filtered(self, frame: Frame) -> bytes:
        """``frame`` after the outgoing frame filter, serialised."""
        assert self.outgoing_frame_filter is not None
        self.outgoing_frame_filter(frame)
        return build_filtered_frame(frame, self._mask_send, [])

    def inflate(self, payload: bytes) -> bytes:
        """A whole compressed message (RSV1 on its one frame) that a handler read itself,
        inflated within the size limit; the payload as it is without permessage-deflate."""
        if self._deflate is None:
            return payload
        return self._deflate.decompress(payload, True, self._assembler.max_message_size)

    def send_ping(self, body: bytes = b"") -> bytes:
        self._check_can_send("send_ping")
        return self._control(constants.OPCODE_PING, body)

    def send_pong(self, body: bytes = b"") -> bytes:
        self._check_can_send("send_pong")
        return self._control(constants.OPCODE_PONG, body)

    def send_close(self, code: int | None = constants.STATUS_NORMAL_CLOSURE, reason: str = "") -> bytes:
        """Our close frame (``code=None``: an empty body). Nothing may be sent after it."""
        if self.close_sent:
            raise InvalidState("close after the closing handshake was sent")
        close = self.announced_close or close_to_send(code, reason, any_code=self.any_close_code)
        body = close.serialize()
        self.close_sent = True
        self.sent_close_code, self.sent_close_reason = close.code, close.reason
        return self._control(constants.OPCODE_CLOSE, body)

    def close_written_elsewhere(self) -> None:
        """A close frame went out that this object did not produce: a handler wrote one on
        the raw connection and said so (pywebsocket's ``request.server_terminated``).
        Nothing may follow it, our own close reply included."""
        self.close_sent = True

    def fail(self, code: int, reason: str = "") -> bytes:
        """Fail the connection (RFC 6455 7.1.7): the close to send (none if ours went already).
        After the connection failed itself (``next_event``), the close it produced, once."""
        if self.failed and self._outgoing:
            return self.data_to_send()
        self.failed = True
        if self.close_sent:
            return b""
        self.close_sent = True
        self.sent_close_code, self.sent_close_reason = code, _truncate_utf8(reason, MAX_CLOSE_REASON)
        body = Close(self.sent_close_code, self.sent_close_reason).serialize()
        return self._control(constants.OPCODE_CLOSE, body)

    def send_frame_unchecked(
        self,
        opcode: int,
        payload: bytes = b"",
        *,
        fin: bool = True,
        rsv1: bool = False,
        rsv2: bool = False,
        rsv3: bool = False,
        mask: bool | None = None,
    ) -> bytes:
        """Any frame at all, as given: for testing clients. No rule is checked, no state changes."""
        masked = self._mask_send if mask is None else mask
        header = create_header(opcode & 0x0F, len(payload), int(fin), int(rsv1), int(rsv2), int(rsv3), masked)
        if not masked:
            return header + payload
        key = os.urandom(4)
        return header + key + apply_mask(payload, key)
