"""``request.ws_stream``: a blocking WebSocket stream over ``request.connection``.

The stream moves bytes between the connection (``read(n)``/``write(b)``, as both
adapters provide) and the sans-I/O core (``framing`` and ``protocol``). It keeps
pywebsocket's method names and semantics, which handlers depend on:
``receive_message()`` returns ``str`` for text, ``bytes`` for binary and ``None``
once the peer's close has arrived (after the close reply is sent).

Thread-safety: one thread may receive while others send; writes are serialised.
"""

from __future__ import annotations

import collections
import logging
import threading
from dataclasses import dataclass, field

from . import common
from .errors import (
    BadOperationException,
    ConnectionTerminatedException,
    InvalidFrameException,
    InvalidUTF8Exception,
    MessageTooBigException,
    ProtocolError,
    UnsupportedFrameException,
    exception_for_close_code,
)
from .extensions import PerMessageDeflate
from .framing import (
    Frame,
    FrameParser,
    build_frame,
    create_header,
    create_length_header,
    encode_close_body,
)
from .protocol import Close, Control, Message, MessageAssembler

__all__ = [
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
]

_log = logging.getLogger("mod_pywebsocket.stream")

DEFAULT_MAX_MESSAGE_SIZE = 64 * 1024 * 1024
# From a connection that returns what has arrived (``read_returns_available``), reads
# are sized to what the frame in progress still needs, between these bounds: small
# reads for small messages (each read allocates its whole size first), large ones for
# large frames (fewer calls; mod_python leaks a little per call). Any other connection
# is asked for exactly the bytes the frame still needs, as pywebsocket3 does.
DEFAULT_READ_SIZE = 16 * 1024
MAX_READ_SIZE = 4 * 1024 * 1024
# Close codes an endpoint may send (1005, 1006 and 1015 are for reporting only).
_UNSENDABLE_CODES = frozenset({1004, 1005, 1006, 1015})


@dataclass
class StreamOptions:
    max_message_size: int | None = DEFAULT_MAX_MESSAGE_SIZE
    read_size: int = DEFAULT_READ_SIZE
    # On a read timeout, send one ping and keep waiting; give up on the second.
    ping_on_idle: bool = True
    unmask_receive: bool = True
    mask_send: bool = False
    encode_text_message_to_utf8: bool = True
    # Server policy the handshake applies: Origins allowed to connect (None: any).
    # Clients that send no Origin (non-browsers) are not affected.
    allowed_origins: frozenset[str] | None = None
    # Kept so code that fills them in still runs; this server has no frame filters.
    outgoing_frame_filters: list = field(default_factory=list)
    incoming_frame_filters: list = field(default_factory=list)
    outgoing_message_filters: list = field(default_factory=list)
    incoming_message_filters: list = field(default_factory=list)


class Stream:
    """The WebSocket connection of one request, as handlers use it."""

    def __init__(self, request, options: StreamOptions | None = None, deflate: PerMessageDeflate | None = None) -> None:
        self._request = request
        self._options = options or StreamOptions()
        self._conn = request.connection
        # Only our own connections say that read(n) returns what has arrived (socket
        # semantics); others (wptserve's HTTP/2 pipe, an embedder's) may block for n bytes.
        self._greedy_reads = getattr(self._conn, "read_returns_available", False) is True
        self._parser = FrameParser(
            require_mask=self._options.unmask_receive, max_payload=self._options.max_message_size
        )
        self._assembler = MessageAssembler(self._options.max_message_size)
        self._deflate = deflate
        if deflate is not None:
            self._parser.allow_rsv1 = True
            self._assembler.inflate = deflate.decompress
        self._compressing = False  # whether the message being sent in fragments is compressed
        self._write_lock = threading.Lock()
        self._sending_opcode: int | None = None
        self._last_received_opcode: int | None = None
        self._ping_queue: collections.deque[bytes] = collections.deque()
        self._failed = False
        self._idle_pinged = False
        request.client_terminated = False
        request.server_terminated = False
        request.ws_close_code = None
        request.ws_close_reason = None

    # -- receiving ---------------------------------------------------------

    def receive_message(self) -> str | bytes | None:
        """Block for the next message; ``None`` once the peer has closed."""
        request = self._request
        if request.client_terminated:
            raise BadOperationException("receive_message after the peer's close")
        while True:
            event = self._next_event()
            if isinstance(event, Message):
                self._last_received_opcode = event.opcode
                return event.data
            if isinstance(event, Control):
                self._last_received_opcode = event.opcode
                self._on_control(event)
                continue
            self._last_received_opcode = common.OPCODE_CLOSE
            self._on_close(event)
            return None

    def get_last_received_opcode(self) -> int | None:
        return self._last_received_opcode

    def receive_bytes(self, length: int) -> bytes:
        """Read exactly ``length`` raw bytes from the connection (for protocol tests)."""
        chunks = [self._parser.take_raw(length)]
        got = len(chunks[0])
        while got < length:
            data = self._read_some(length - got)
            chunks.append(data)
            got += len(data)
        return b"".join(chunks)

    def _next_event(self):
        if self._failed:
            raise ConnectionTerminatedException("the connection has already failed")
        while True:
            try:
                frame = self._parser.next_frame()
                if frame is None:
                    self._parser.feed(self._read_some(self._read_size()))
                    continue
                event = self._assembler.process(frame)
            except ProtocolError as e:
                self._fail(e.code, e.reason)
            if event is not None:
                return event

    def _read_size(self) -> int:
        needed = self._parser.needed()
        if not self._greedy_reads:
            return needed
        return min(max(needed, self._options.read_size), MAX_READ_SIZE)

    def _read_some(self, size: int) -> bytes:
        while True:
            try:
                data = self._conn.read(size)
            except TimeoutError:
                if self._options.ping_on_idle and not self._idle_pinged and not self._request.server_terminated:
                    self._idle_pinged = True
                    self._send_frame(common.OPCODE_PING, b"")
                    continue
                self._failed = True
                raise ConnectionTerminatedException("read timed out") from None
            except OSError as e:
                self._failed = True
                raise ConnectionTerminatedException(f"read failed: {e}") from e
            if not data:
                self._failed = True
                raise ConnectionTerminatedException("the peer closed the connection without a close frame")
            self._idle_pinged = False
            return data

    def _on_control(self, event: Control) -> None:
        request = self._request
        if event.opcode == common.OPCODE_PING:
            handler = getattr(request, "on_ping_handler", None)
            if handler is not None:
                handler(request, event.payload)
            elif not request.server_terminated:
                self._send_frame(common.OPCODE_PONG, event.payload)
            return
        if event.payload in self._ping_queue:
            while self._ping_queue and self._ping_queue.popleft() != event.payload:
                pass
        handler = getattr(request, "on_pong_handler", None)
        if handler is not None:
            handler(request, event.payload)

    def _on_close(self, event: Close) -> None:
        request = self._request
        request.ws_close_code = event.code
        request.ws_close_reason = event.reason
        request.client_terminated = True
        if request.server_terminated:
            return  # the reply to our own close: the closing handshake is complete
        dispatcher = getattr(request, "_dispatcher", None)
        if dispatcher is not None:
            code, reason = dispatcher.passive_closing_handshake(request)
        else:
            code, reason = default_passive_closing_handshake(request)
        code = _sendable_code(code)
        try:
            self._send_close(code, (reason or "") if code is not None else "")
        except ValueError:  # a reason longer than a close frame can carry
            self._send_close(code, "")

    def _fail(self, code: int, reason: str) -> None:
        """Fail the connection (RFC 6455 7.1.7): send a close with ``code`` and raise."""
        _log.info("failing the connection with %d: %s", code, reason)
        self._failed = True
        if not self._request.server_terminated:
            try:
                self._send_close(code, reason[:120])
            except ConnectionTerminatedException:
                pass
        raise exception_for_close_code(code, reason)

    # -- sending -----------------------------------------------------------

    def send_message(self, message: str | bytes, end: bool = True, binary: bool = False) -> None:
        """Send a message, or with ``end=False`` one fragment of it."""
        if self._request.server_terminated:
            raise BadOperationException("send_message after the closing handshake was sent")
        if binary:
            if isinstance(message, str):
                raise BadOperationException("a binary message must be bytes, not str")
            opcode = common.OPCODE_BINARY
            payload = bytes(message)
        else:
            opcode = common.OPCODE_TEXT
            payload = message.encode("utf-8") if isinstance(message, str) else bytes(message)
        with self._write_lock:
            first = self._sending_opcode is None
            if not first and self._sending_opcode != opcode:
                raise BadOperationException("text and binary fragments mixed in one message")
            if first:
                self._compressing = self._deflate is not None and self._deflate.compress_outgoing
            if self._compressing:
                payload = self._deflate.compress(payload, end)
            self._sending_opcode = None if end else opcode
            self._write(
                build_frame(
                    opcode if first else common.OPCODE_CONTINUATION,
                    payload,
                    fin=end,
                    rsv1=self._compressing and first,
                    mask=self._options.mask_send,
                )
            )

    def send_ping(self, body: str | bytes = b"", binary: bool = False) -> None:
        if isinstance(body, str):
            body = body.encode("utf-8")
        if len(body) > 125:
            raise BadOperationException("a ping body must be 125 bytes or fewer")
        if self._request.server_terminated:
            raise BadOperationException("send_ping after the closing handshake was sent")
        self._ping_queue.append(body)
        self._send_frame(common.OPCODE_PING, body)

    def close_connection(
        self, code: int | None = common.STATUS_NORMAL_CLOSURE, reason: str = "", wait_response: bool = True
    ) -> None:
        """Start the closing handshake and (by default) wait for the peer's close."""
        request = self._request
        if request.server_terminated:
            _log.debug("close_connection: the close was already sent")
            return
        if code is None:
            if reason:
                raise BadOperationException("a close reason needs a status code")
        elif not (1000 <= code <= 4999) or code in _UNSENDABLE_CODES:
            raise BadOperationException(f"status code {code} cannot be sent in a close frame")
        try:
            self._send_close(code, reason or "")
        except ValueError as e:
            raise BadOperationException(str(e)) from None
        if not wait_response or request.client_terminated or self._failed:
            return
        if code in (common.STATUS_GOING_AWAY, common.STATUS_PROTOCOL_ERROR):
            return
        self._drain_until_close()

    def _drain_until_close(self) -> None:
        """Read (and drop) what the peer still sends until its close arrives."""
        try:
            while True:
                event = self._next_event()
                if isinstance(event, Close):
                    self._on_close(event)
                    return
        except (ConnectionTerminatedException, InvalidUTF8Exception, UnsupportedFrameException) as e:
            _log.debug("no clean close reply: %s", e)

    def _send_close(self, code: int | None, reason: str) -> None:
        body = encode_close_body(code, reason)
        self._request.server_terminated = True
        self._send_frame(common.OPCODE_CLOSE, body)

    def _send_frame(self, opcode: int, payload: bytes) -> None:
        with self._write_lock:
            self._write(build_frame(opcode, payload, mask=self._options.mask_send))

    def _write(self, data: bytes) -> None:
        try:
            self._conn.write(data)
        except OSError as e:
            self._failed = True
            raise ConnectionTerminatedException(f"write failed: {e}") from e


def default_passive_closing_handshake(request) -> tuple[int | None, str]:
    """Answer a peer's close by echoing its status code (RFC 6455 5.5.1)."""
    code = request.ws_close_code
    if code is None or code == common.STATUS_NO_STATUS_RECEIVED:
        return None, ""
    return code, ""


def _sendable_code(code: int | None) -> int | None:
    if code is None or code in _UNSENDABLE_CODES or not (1000 <= code <= 4999):
        return None
    return code


# -- frame builders kept for handlers and test clients written for pywebsocket --


def create_closing_handshake_body(code: int | None, reason: str | bytes) -> bytes:
    return encode_close_body(code, reason or "")


def create_text_frame(
    message: str | bytes, opcode: int = common.OPCODE_TEXT, fin: int = 1, mask: bool = False, frame_filters=()
) -> bytes:
    payload = message.encode("utf-8") if isinstance(message, str) else message
    return build_frame(opcode, payload, fin=bool(fin), mask=mask)


def create_binary_frame(
    message: bytes, opcode: int = common.OPCODE_BINARY, fin: int = 1, mask: bool = False, frame_filters=()
) -> bytes:
    return build_frame(opcode, bytes(message), fin=bool(fin), mask=mask)


def create_ping_frame(body: bytes, mask: bool = False, frame_filters=()) -> bytes:
    return build_frame(common.OPCODE_PING, body, mask=mask)


def create_pong_frame(body: bytes, mask: bool = False, frame_filters=()) -> bytes:
    return build_frame(common.OPCODE_PONG, body, mask=mask)


def create_close_frame(body: bytes, mask: bool = False, frame_filters=()) -> bytes:
    return build_frame(common.OPCODE_CLOSE, body, mask=mask)
