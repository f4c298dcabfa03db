"""``request.ws_stream``: a blocking WebSocket stream over ``request.connection``.

The stream moves bytes between the connection (``read(n)``/``write(b)``, as both
adapters provide) and the sans-I/O core (``connection.ServerConnection``, which owns
the protocol state and rules). It keeps pywebsocket's method names and semantics,
which handlers depend on: ``receive_message()`` returns ``str`` for text, ``bytes``
for binary and ``None`` once the peer's close has arrived (after the close reply is
sent). ``request.server_terminated`` and ``client_terminated`` mirror the core's
state, set as each close frame goes by.

Threads: one thread may receive while others send and close. Two locks keep that
safe, and this class is where the contract is enforced:

* ``_core_lock`` is held for every call into the core (``ServerConnection``), by the
  reader and the senders alike, and never across I/O: the core is only ever touched by
  one thread at a time, so its state changes (a failure the reader finds, a close a
  sender asks for) cannot interleave.
* ``_write_lock`` is held by a sender from asking the core for a frame until the frame
  is written (``_send``, the one send path): frames go out whole, in the order the core
  produced them, so nothing follows our close frame. The reader takes it only to write
  a frame of its own (a pong, the close of a failure).

Lock order: ``_write_lock``, then ``_core_lock``; the reader never waits for the write
lock while it holds the core lock, so a slow write never stalls reading.
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

from ..core import constants
from ..core.connection import (
    InvalidState,
    ServerConnection,
    State,
    close_to_send,
)
from ..core.deflate import PerMessageDeflate
from ..core.errors import (
    BadOperationException,
    ConnectionTerminatedException,
    InvalidUTF8Exception,
    ProtocolError,
    UnsupportedFrameException,
    exception_for_close_code,
)
from ..core.frames import MAX_CLOSE_REASON, Close, Frame, is_valid_close_code
from ..core.messages import Control, Event, Message
from . import compat, legacy_attributes
from .interfaces import ByteTap, Connection, MessageStream, PassiveClosingHook, Request, RuntimeStream
from .stream_internals import PywebsocketInternals
from .stream_options import DEFAULT_READ_SIZE as DEFAULT_READ_SIZE
from .stream_options import StreamOptions as StreamOptions

_log = logging.getLogger("mod_pywebsocket.stream")
_T = TypeVar("_T")

# From a connection that returns what has arrived (``read_returns_available``), reads
# are sized to what the frame in progress still needs, between these bounds
# (``StreamOptions.read_size``, ``DEFAULT_READ_SIZE`` by default): small reads for
# small messages (each read allocates its whole size first), large ones for large
# frames (fewer calls; mod_python leaks a little per call). Any other connection is
# asked for exactly the bytes the frame still needs, as pywebsocket3 does.
MAX_READ_SIZE = 4 * 1024 * 1024
# A frame's header and payload are written apart when the payload is this big: joined,
# they would be one more copy of the message while it goes out.
SEPARATE_PAYLOAD_WRITE = 64 * 1024
# Messages up to this size are not counted against a buffer budget (no lock taken for
# them): 1,024 connections x 64 KiB is 64 MiB at most.
UNCOUNTED_MESSAGE_BYTES = 64 * 1024


class Stream(PywebsocketInternals):
    """The WebSocket connection of one request, as handlers use it.

    A blocking adapter over ``connection.ServerConnection``: sends take the write lock,
    ask the core for the bytes (which checks the state and changes it) and write them
    before letting go, so no data frame can follow our close frame and no frame is
    split by another, whatever threads send and close. Receiving reads into the core.
    """

    def __init__(
        self,
        request: Request,
        options: StreamOptions | None = None,
        deflate: PerMessageDeflate | None = None,
        *,
        passive_closing_handshake: PassiveClosingHook | None = None,
    ) -> None:
        """``passive_closing_handshake(request) -> (code, reason)`` answers the peer's close
        (the handler's hook, which the handshake passes); without it, ``request._dispatcher``'s
        is used if an embedder set one (``legacy_attributes``), else the peer's code is echoed."""
        self._logger = _log
        self._request = request
        self._passive_closing_handshake = passive_closing_handshake
        self._options = options = options or StreamOptions()
        self._conn: Connection = request.connection
        # Only our own connections say that read(n) returns what has arrived (socket
        # semantics); others (wptserve's HTTP/2 pipe, an embedder's) may block for n bytes.
        self._greedy_reads = getattr(self._conn, "read_returns_available", False) is True
        rfc_framing = compat.active().rfc_framing
        self._reserved_code = constants.STATUS_PROTOCOL_ERROR if rfc_framing else constants.STATUS_UNSUPPORTED_DATA
        self._core = ServerConnection(
            max_message_size=options.max_message_size,
            require_mask=options.unmask_receive,
            mask_send=options.mask_send,
            deflate=deflate,
            pywebsocket3_rules=not rfc_framing,
            # Filters installed by an extension processor of the handler's own: every
            # frame sent goes through them, and pywebsocket3's receive loop runs instead
            # of the core's.
            outgoing_frame_filter=self._filter_outgoing_frame if options.outgoing_frame_filters else None,
        )
        self._filtered = bool(options.incoming_frame_filters or options.incoming_message_filters)
        self._budget = self._options.buffer_budget
        self._held = 0  # bytes of the budget this connection holds
        self._write_lock = threading.Lock()  # see the module's docstring
        self._core_lock = threading.Lock()
        self._original_opcode: int | None = None  # the last message's (pywebsocket's name)
        self._received_fragments: list[bytes] = []  # for _get_message_from_frame
        self._ping_queue: collections.deque[bytes] = collections.deque()
        self._idle_pinged = False
        #: what sees the bytes each way (a capture, or a count for the connection's log line);
        #: None, the default, costs one check per read and write
        self.tap: ByteTap | None = None
        request.client_terminated = False
        request.server_terminated = False
        request.ws_close_code = None
        request.ws_close_reason = None

    @property
    def state(self) -> State:
        """The connection's state (open, closing, closed), as the core has it."""
        return self._core.state

    # -- receiving ---------------------------------------------------------

    def receive_message(self) -> str | bytes | None:
        """Block for the next message; ``None`` once the peer has closed."""
        if self._core.close_received:
            raise BadOperationException("receive_message after the peer's close")
        if self._held:
            self.release_buffers()  # the handler is done with the last message
        if self._filtered:
            return self._receive_message_filtered()
        pull, next_event = self._pull, self._core.next_event
        while True:
            event: Event = pull(next_event)  # type: ignore[assignment]  # (see _next_event); no call between: hot path
            if isinstance(event, Message):
                self._original_opcode = event.opcode
                return event.data
            if isinstance(event, Control):
                self._original_opcode = event.opcode
                self._on_control(event)
                continue
            self._original_opcode = constants.OPCODE_CLOSE
            self._on_close(event)
            return None

    def get_last_received_opcode(self) -> int | None:
        return self._original_opcode

    def receive_bytes(self, length: int) -> bytes:
        """Read exactly ``length`` raw bytes from the connection (for protocol tests)."""
        with self._core_lock:
            chunks = [self._core.take_raw(length)]
        got = len(chunks[0])
        while got < length:
            data = self._read_some(length - got)
            chunks.append(data)
            got += len(data)
        return b"".join(chunks)

    def _next_event(self) -> Event:
        # mypy solves _pull's _T for the union Event as object (a join), hence the ignore.
        return self._pull(self._core.next_event)  # type: ignore[return-value]

    def _pull(self, take: Callable[[], _T | None]) -> _T:
        """The one receive loop: read into the core until ``take`` (``next_event``, or
        ``next_frame_unchecked`` for handlers that read raw frames) has something. A
        protocol error fails the connection in the core; its close is written here.
        One hold of the core lock per read: the bytes go in, the next item comes out, and
        what the next read needs is asked in the same step (this is the hot path)."""
        core, lock, budget, request = self._core, self._core_lock, self._budget, self._request
        data = b""
        while True:
            if request.server_terminated and not core.close_sent:
                self._note_handlers_own_close()
            try:
                with lock:
                    if data:
                        core.receive_data(data)
                    item = take()
                    if item is None:
                        needed = core.needed()
                        wanted = core.buffering() if budget is not None else 0
            except ProtocolError as e:
                self._close_for_failure(e.code, e.reason, core.data_to_send)  # the core failed itself
            if item is not None:
                return item
            if wanted > self._held and wanted > UNCOUNTED_MESSAGE_BYTES:
                self._reserve(wanted)
            if self._greedy_reads:
                needed = min(max(needed, self._options.read_size), MAX_READ_SIZE)
            data = self._read_some(needed)

    def _reserve(self, wanted: int) -> None:
        """Hold budget for the message in progress (``wanted`` bytes: what it will hold once
        the frame in progress is in) before reading more of it; 1009 if the process's
        budget cannot take it."""
        budget = self._budget
        assert budget is not None
        if not budget.reserve(wanted - self._held):
            self.release_buffers()
            self._fail(
                constants.STATUS_MESSAGE_TOO_BIG,
                f"server buffer budget exhausted (a message of {wanted} bytes with "
                f"{budget.used} of {budget.limit} held)",
            )
        self._held = wanted

    def release_buffers(self) -> None:
        """Give back the buffer budget this connection holds (its message is done with)."""
        held, self._held = self._held, 0
        if held and self._budget is not None:
            self._budget.release(held)

    def _read_some(self, size: int) -> bytes:
        while True:
            try:
                data = self._conn.read(size)
            except TimeoutError:
                if self._options.ping_on_idle and not self._idle_pinged and not self._core.close_sent:
                    self._idle_pinged = True
                    self._send_unless_closing(self._core.send_ping)
                    continue
                self._lost("read timed out")
            except OSError as e:
                self._lost(f"read failed: {e}", e)
            if not data:
                self._lost("the peer closed the connection without a close frame")
            self._idle_pinged = False
            if self.tap is not None:
                self.tap.received(data)
            return data

    def _on_control(self, event: Control) -> None:
        request = self._request
        if event.opcode == constants.OPCODE_PING:
            handler = getattr(request, "on_ping_handler", None)
            if handler is not None:
                handler(request, event.payload)
            else:
                self._send_unless_closing(self._core.send_pong, event.payload)
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
        self._note_handlers_own_close()
        if self._core.close_sent:
            return  # the reply to our own close: the closing handshake is complete
        hook = (
            self._passive_closing_handshake
            or legacy_attributes.embedders_passive_closing_hook(request)
            or default_passive_closing_handshake
        )
        code, reason = hook(request)
        if code is None and reason:
            _log.warning("%s: a close reason needs a code; the reply to the close goes without", request.ws_resource)
        reason = (reason or "") if code is not None else ""
        error = None
        try:
            close_to_send(code, reason, any_code=self._core.any_close_code)
        except BadOperationException as e:
            # A hook asked for a close no frame may carry (1005 echoed after an empty close,
            # a reason over 123 bytes): the nearest close that may be sent (RFC 6455 7.4.1;
            # Autobahn 7.3.1 wants an empty close or 1000 after an empty one), or as
            # pywebsocket3 did, 1011 and the error for the handler.
            if compat.active().nearest_close_for_an_unsendable_hook_answer:
                code, reason = _nearest_sendable_close(code, reason)
            else:
                _log.warning("%s: the passive-close hook's (%r, %r) cannot be sent (%s): closing with 1011",
                             request.ws_resource, code, reason, e)  # fmt: skip
                code, reason, error = constants.STATUS_INTERNAL_ENDPOINT_ERROR, "", e
        try:
            self._send_close(code, reason)
        except InvalidState:
            pass  # another thread's close went first
        if error is not None:
            raise BadOperationException(f"the passive-close hook's answer cannot be sent: {error}")

    def _note_handlers_own_close(self) -> None:
        """A handler that wrote its own close frame says so with ``request.server_terminated``
        (pywebsocket3's handlers do): then no close of ours may follow, not even a failure's."""
        if self._request.server_terminated and not self._core.close_sent:
            with self._core_lock:
                self._core.close_written_elsewhere()

    def _fail(self, code: int, reason: str) -> NoReturn:
        """Fail the connection (RFC 6455 7.1.7) for a rule the core does not see (a handler's
        raw reads, the buffer budget): send a close with ``code`` and raise."""
        self._note_handlers_own_close()
        with self._core_lock:
            self._core.expect_close()  # senders give way (see _send_close)
        self._close_for_failure(code, reason, self._core.fail, code, reason)

    def _close_for_failure(self, code: int, reason: str, produce: Callable[..., bytes], *args: Any) -> NoReturn:
        """Send a failure's close (``produce(*args)``) if it can be (a connection already
        gone changes nothing) and raise the exception the handler gets for ``code``."""
        _log.debug("failing the connection with %d: %s", code, reason)  # the connection's line says it
        try:
            self._send(self._produce_close, produce, *args)
        except ConnectionTerminatedException:
            pass
        raise exception_for_close_code(code, reason)

    def _lost(self, why: str, cause: BaseException | None = None) -> NoReturn:
        """The transport ended under us: the core learns it, the handler gets 1006."""
        with self._core_lock:
            self._core.receive_eof()
        raise ConnectionTerminatedException(why) from cause

    # -- sending -----------------------------------------------------------

    def _send(self, produce: Callable[..., bytes | tuple[bytes, bytes]], *args: Any) -> None:
        """The one send path: under the write lock, ask the core for the bytes
        (``produce(*args)``, under the core lock: it checks the state and changes it), then
        write them: a frame, or ``(header, payload)`` written in that order."""
        with self._write_lock:
            with self._core_lock:
                data = produce(*args)
            if type(data) is tuple:
                header, rest = data
                if len(rest) < SEPARATE_PAYLOAD_WRITE:
                    self._write(header + rest)
                else:
                    self._write(header)
                    self._write(rest)
            elif data:
                self._write(data)  # type: ignore[arg-type]  # bytes: `type() is tuple` narrows one branch only

    def _send_unless_closing(self, produce: Callable[..., bytes], *args: Any) -> None:
        """``_send`` for a frame the server sends on its own (a pong, an idle ping): simply
        not sent once a close is on its way (a handler's send raises ``InvalidState``)."""
        try:
            self._send(produce, *args)
        except InvalidState:
            pass

    def _produce_close(self, produce: Callable[..., bytes], *args: Any) -> bytes:
        """A close's bytes (``produce(*args)``: ours, or a failure's); as they are made,
        ``request.server_terminated`` says a close went (pywebsocket's contract)."""
        data = produce(*args)
        self._request.server_terminated = True
        return data

    def send_message(self, message: str | bytes, end: bool = True, binary: bool = False) -> None:
        """Send a message, or with ``end=False`` one fragment of it."""
        core = self._core
        if core.close_expected or core.close_sent:  # checked first, as pywebsocket3 does: whatever ``message`` is
            raise InvalidState("send_message after the closing handshake was sent")
        if binary and isinstance(message, str):
            raise BadOperationException("a binary message must be bytes, not str")
        for message_filter in self._options.outgoing_message_filters:
            message = message_filter.filter(message, end, binary)
        if binary:
            payload = bytes(message)  # type: ignore[arg-type]  # binary: a str was refused above
        else:
            payload = message.encode("utf-8") if isinstance(message, str) else bytes(message)
        self._send(core.send_message_parts, payload, binary, end)

    def send_ping(self, body: str | bytes = b"", binary: bool = False) -> None:
        if isinstance(body, str):
            body = body.encode("utf-8")
        self._send(self._produce_ping, body)

    def _produce_ping(self, body: bytes) -> bytes:
        data = self._core.send_ping(body)
        self._ping_queue.append(body)  # under the lock: in the order the pings go out
        return data

    def close_connection(
        self, code: int | None = constants.STATUS_NORMAL_CLOSURE, reason: str = "", wait_response: bool = True
    ) -> None:
        """Start the closing handshake and (by default) wait for the peer's close."""
        core = self._core
        if core.close_sent:
            _log.debug("close_connection: the close was already sent")
            return
        try:
            self._send_close(code, reason or "")
        except InvalidState:  # another thread's close went first
            _log.debug("close_connection: the close was already sent")
            return
        if not wait_response or core.close_received or core.failed or core.announced_close is not None:
            return  # (a stopping server waits for no reply: its deadline is its own)
        if code in (constants.STATUS_GOING_AWAY, constants.STATUS_PROTOCOL_ERROR):
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

    def finish_writes(self) -> None:
        """Return once no frame is being written, by any thread.

        A close sent from another thread (a stopping server's) marks the stream
        terminated before its bytes are out; whoever ends the connection waits here
        first, or the close frame would be cut off.
        """
        with self._write_lock:
            pass

    def stop_sending(self, code: int = constants.STATUS_GOING_AWAY, reason: str = "") -> None:
        """Announce the close a stopping server is about to send: from now on sends raise
        ``InvalidState`` (pongs and pings are dropped), and whichever close goes out first,
        the server's own or one a handler or the dispatcher asks for meanwhile, carries
        ``code`` and ``reason`` (``ServerConnection.stop_sending``). So no connection
        keeps sending while the server closes the others, and every client learns why."""
        with self._core_lock:
            self._core.stop_sending(code, reason)

    def _send_close(self, code: int | None, reason: str) -> None:
        core = self._core
        if core.announced_close is None:
            close_to_send(code, reason, any_code=core.any_close_code)  # a close that may not be sent changes nothing
        # Said before waiting for the write lock: senders that loop would otherwise win it
        # back every time (threading.Lock is not fair) and hold the close off for ever.
        with self._core_lock:
            core.expect_close()
        self._send(self._produce_close, core.send_close, code, reason)

    def _filter_outgoing_frame(self, frame: Frame) -> None:
        for frame_filter in self._options.outgoing_frame_filters:
            frame_filter.filter(frame)

    def _write(self, data: bytes) -> None:
        try:
            self._conn.write(data)
        except OSError as e:
            self._lost(f"write failed: {e}", e)
        if self.tap is not None:
            self.tap.sent(data)

    @property
    def messages_received(self) -> int:
        return self._core.messages_received

    @property
    def messages_sent(self) -> int:
        return self._core.messages_sent

    @property
    def sent_close_code(self) -> int | None:
        return self._core.sent_close_code

    @property
    def sent_close_reason(self) -> str | None:
        return self._core.sent_close_reason


def runtime_stream(request: Request) -> RuntimeStream | None:
    """``request.ws_stream`` when the runtime can stop it, wait for its writes and release
    its buffers (``interfaces.RuntimeStream``): a ``Stream`` (checked first, in nanoseconds;
    the protocol's check takes microseconds), or another stream with those methods. None
    when there is no stream, or a handler put one there that lacks them."""
    stream: MessageStream | None = getattr(request, "ws_stream", None)  # an embedder's request: only once handshaken
    if isinstance(stream, Stream) or isinstance(stream, RuntimeStream):
        return stream
    return None


def default_passive_closing_handshake(request: Request) -> tuple[int | None, str]:
    """Answer a peer's close by echoing its status code (RFC 6455 5.5.1); under
    pywebsocket3's profile, with 1000 as pywebsocket3 did."""
    if not compat.active().echo_close_code:
        return constants.STATUS_NORMAL_CLOSURE, ""
    code = request.ws_close_code
    if code is None or code == constants.STATUS_NO_STATUS_RECEIVED:
        return None, ""
    return code, ""


def _nearest_sendable_close(code: int | None, reason: str) -> tuple[int | None, str]:
    """``(code, reason)`` made sendable: an unsendable code becomes no code (an empty close)
    and a reason too long for a close frame is dropped."""
    if code is None or not is_valid_close_code(code):
        return None, ""
    return code, reason if len(reason.encode("utf-8")) <= MAX_CLOSE_REASON else ""
