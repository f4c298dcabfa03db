"""The HTTP/3 listener: RFC 9220 WebSockets and the site's pages over QUIC (aioquic).

One asyncio loop in a thread of its own runs aioquic's QUIC and HTTP/3 state; each
request stream is an ``_Exchange``. An extended CONNECT with ``:protocol websocket``
runs the one request flow (``runtime.flow.handle_upgrade``, with ``h3_handshake``) on
a thread of its own, over a ``StreamConnection``; a GET or HEAD gets the same answer
the site gives over TCP (``Site.plain_answer``: its files, the client-conformance page
and reports), computed off the loop. The loop never blocks on a handler.

aioquic's ``H3Connection`` sends ``SETTINGS_ENABLE_CONNECT_PROTOCOL=1`` in its SETTINGS
(measured on 1.7.2), which Chromium needs before it puts a WebSocket on the session.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import socket
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.asyncio.server import serve
from aioquic.h3.connection import H3_ALPN, ErrorCode, H3Connection
from aioquic.h3.events import DataReceived, H3Event, HeadersReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import (
    ConnectionTerminated,
    ProtocolNegotiated,
    QuicEvent,
    StopSendingReceived,
    StreamReset,
)

from ...core.handshake import SERVER_TOKEN
from ...runtime import flow
from ...runtime.capacity import Capacity
from ...runtime.dispatcher import Dispatcher
from ...runtime.request import WebSocketRequest
from ...runtime.stream_options import StreamOptions
from ..standalone.http_head import Headers, error_answer
from .handshake import h3_handshake
from .stream_connection import RECEIVE_WINDOW, StreamConnection

_log = logging.getLogger("mod_pywebsocket.h3")

#: How long a handler's thread waits for the loop to take its bytes before it takes the
#: loop for gone (a stopped listener): its write then fails as on a reset connection.
LOOP_WAIT = 30.0


class Site(Protocol):
    """What the listener serves: the server it runs beside (``standalone.server``)."""

    @property
    def dispatcher(self) -> Dispatcher: ...

    @property
    def stream_options(self) -> StreamOptions: ...

    @property
    def capacity(self) -> Capacity: ...

    @property
    def timeout(self) -> float: ...

    def refuse_upgrade(self, target: str, headers: Headers) -> flow.Refusal | None:
        """The site's refusal of a WebSocket before the flow (a bad path, no credentials)."""
        ...

    def plain_answer(self, method: str, target: str, headers: Headers) -> tuple[int, list[tuple[str, str]], bytes]:
        """``(status, headers, body)`` for a request that is not a WebSocket."""
        ...

    def log_access(
        self, addr: tuple[str, int], request_line: str, status: int, started: float, user_agent: str | None = None
    ) -> None:
        """The access-log line of one request, in the server's own format."""
        ...


class H3Listener:
    """HTTP/3 on a UDP port, beside a TCP server whose site it shares."""

    def __init__(
        self,
        site: Site | None,
        host: str,
        port: int,
        certificate: str,
        private_key: str,
        timeout: float,
        keylog: str | None = None,
    ) -> None:
        """``site`` may come later (``site = ...`` once started: the appliance binds as root,
        then loads handlers as www-data); until then requests get 503. ``keylog``: a file
        the QUIC connections' TLS secrets are appended to (NSS key log, WS_TLS_KEYLOG)."""
        self.site = site
        # aioquic logs every connection's version and ALPN at info: noise below debug.
        logging.getLogger("quic").setLevel(logging.DEBUG if _log.isEnabledFor(logging.DEBUG) else logging.WARNING)
        self._configuration = QuicConfiguration(
            is_client=False,
            alpn_protocols=H3_ALPN,
            # Our WebSocket idle ping comes after ``timeout``; QUIC must outlive two of them.
            idle_timeout=2 * timeout + 10,
        )
        self._configuration.load_cert_chain(certificate, private_key)
        if keylog:
            # Line-buffered: each connection's secrets are on disk as soon as it has them.
            self._configuration.secrets_log_file = open(keylog, "a", buffering=1, encoding="ascii")  # noqa: SIM115
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(host, port), name="h3-loop", daemon=True)
        self._server: Any = None
        self.address: tuple[str, int] = (host, port)

    def start(self) -> None:
        """Bind and serve; raises what binding raised."""
        self._thread.start()
        self._ready.wait()
        if self._failure is not None:
            raise self._failure

    def _run(self, host: str, port: int) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._server = self._loop.run_until_complete(
                serve(host, port, configuration=self._configuration, create_protocol=self._protocol)
            )
            transport = self._server._transport
            self.address = transport.get_extra_info("sockname")[:2]
            _widen_receive_buffer(transport.get_extra_info("socket"))
        except BaseException as e:  # noqa: BLE001 - handed to start()'s caller
            self._failure = e
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()
        self._loop.close()

    def _protocol(self, *args: Any, **kwargs: Any) -> _H3Protocol:
        return _H3Protocol(*args, listener=self, loop=self._loop, **kwargs)

    def stop(self) -> None:
        """Close the QUIC connections and stop the loop (open WebSockets were closed by the
        server's registry first)."""
        if not self._thread.is_alive():
            return

        def close() -> None:
            if self._server is not None:
                self._server.close()
            self._loop.stop()

        self._loop.call_soon_threadsafe(close)
        self._thread.join(5)


#: The UDP receive buffer asked for (the kernel caps it at net.core.rmem_max): with the
#: default one a burst of a large message overflows it on loopback and QUIC's
#: congestion window collapses to tens of KiB.
RECEIVE_BUFFER = 4 << 20


def _widen_receive_buffer(sock: Any) -> None:
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
    except (AttributeError, OSError):
        pass


class _NoArrival:
    highest_offset = 0


class _CreditView:
    """A stream as aioquic's MAX_STREAM_DATA writer sees it, minus what has arrived: the
    writer's own rule (double the credit once half of it has arrived, whether or not
    anyone read it) never fires; ``_stream_limits`` sets the credit instead. Every other
    attribute is the stream's (aioquic 1.7.2's ``_write_stream_limits`` reads and writes
    ``max_stream_data_local`` and ``max_stream_data_local_sent``, reads ``stream_id``)."""

    __slots__ = ("_stream",)
    receiver = _NoArrival

    def __init__(self, stream: Any) -> None:
        object.__setattr__(self, "_stream", stream)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._stream, name, value)


class _H3Protocol(QuicConnectionProtocol):
    """One QUIC connection: its HTTP/3 state and its request streams."""

    def __init__(self, *args: Any, listener: H3Listener, loop: asyncio.AbstractEventLoop, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._listener = listener
        self._event_loop = loop
        self._h3: H3Connection | None = None
        self._exchanges: dict[int, _Exchange] = {}
        # aioquic grants a stream more credit as data arrives, not as it is read: a client
        # could fill a handler that does not read without bound. WebSocket streams get
        # credit as TCP gets window, for what the handler has read (stream_connection).
        self._write_stream_limits: Callable[[Any, Any, Any], None] = self._quic._write_stream_limits
        self._quic._write_stream_limits = self._stream_limits  # type: ignore[method-assign]

    def _stream_limits(self, builder: Any, space: Any, stream: Any) -> None:
        exchange = self._exchanges.get(stream.stream_id)
        if exchange is None or not exchange.websocket:
            self._write_stream_limits(builder, space, stream)
            return
        # What the handler has read: what aioquic has delivered in order (not the highest
        # offset seen, which runs ahead of a gap when packets are lost or reordered) less
        # what is still unread; the client may send RECEIVE_WINDOW past it.
        read_up_to = stream.receiver.starting_offset() - exchange.connection.unread
        credit = read_up_to + RECEIVE_WINDOW
        if credit > stream.max_stream_data_local:
            stream.max_stream_data_local = credit
        self._write_stream_limits(builder, space, _CreditView(stream))

    def peer_address(self) -> tuple[str, int]:
        # The UDP socket is the listener's, shared by every connection: the peer is the
        # QUIC connection's network path (aioquic 1.7.2 keeps the validated one first).
        paths = self._quic._network_paths
        return (str(paths[0].addr[0]), int(paths[0].addr[1])) if paths else ("?", 0)

    def local_address(self) -> tuple[str, int]:
        transport = self._transport
        local = transport.get_extra_info("sockname") if transport is not None else None
        return (str(local[0]), int(local[1])) if local else ("?", 0)

    def quic_event_received(self, event: QuicEvent) -> None:
        if isinstance(event, ProtocolNegotiated) and event.alpn_protocol in H3_ALPN:
            self._h3 = H3Connection(self._quic)
        elif isinstance(event, StreamReset):
            exchange = self._exchanges.pop(event.stream_id, None)
            if exchange is not None:
                exchange.connection.abort(f"the client reset the stream (error {event.error_code:#x})")
        elif isinstance(event, StopSendingReceived):
            # The client will read no more: what the handler would send has nowhere to go.
            exchange = self._exchanges.pop(event.stream_id, None)
            if exchange is not None:
                exchange.connection.abort(f"the client stopped reading the stream (error {event.error_code:#x})")
                self._quic.reset_stream(event.stream_id, event.error_code)
        elif isinstance(event, ConnectionTerminated):
            self._abort_all(f"the QUIC connection ended ({event.reason_phrase or event.error_code})")
        if self._h3 is not None:
            for h3_event in self._h3.handle_event(event):
                self._h3_event_received(h3_event)

    def connection_lost(self, exc: Exception | None) -> None:
        self._abort_all("the QUIC connection was lost")
        super().connection_lost(exc)

    def _abort_all(self, why: str) -> None:
        exchanges, self._exchanges = self._exchanges, {}
        for exchange in exchanges.values():
            exchange.connection.abort(why)

    def _h3_event_received(self, event: H3Event) -> None:
        if isinstance(event, HeadersReceived):
            self._start(event)
        elif isinstance(event, DataReceived):
            exchange = self._exchanges.get(event.stream_id)
            if exchange is not None:
                exchange.connection.feed(event.data, event.stream_ended)
                if event.stream_ended and not exchange.websocket:
                    self._exchanges.pop(event.stream_id, None)

    def _start(self, event: HeadersReceived) -> None:
        pseudo: dict[str, str] = {}
        fields = Headers()
        for name, value in event.headers:
            key, text = name.decode("latin-1"), value.decode("latin-1")
            if key.startswith(":"):
                pseudo[key] = text
            else:
                fields.add(key, text)
        if "host" not in fields and ":authority" in pseudo:
            fields.add("host", pseudo[":authority"])  # as HTTP/2 servers give it to handlers
        exchange = _Exchange(self, self._listener.site, event.stream_id, pseudo, fields)
        self._exchanges[event.stream_id] = exchange
        if event.stream_ended:
            exchange.connection.feed(b"", True)
        thread = threading.Thread(target=exchange.run, name=f"h3-stream-{event.stream_id}", daemon=True)
        thread.start()

    # -- for the exchanges, on the loop ------------------------------------------

    def send_on_loop(self, stream_id: int, data: bytes, end_stream: bool) -> int:
        assert self._h3 is not None
        self._h3.send_data(stream_id, data, end_stream)
        self.transmit()
        if end_stream:
            self._exchanges.pop(stream_id, None)
        return self.unacknowledged(stream_id)

    def headers_on_loop(self, stream_id: int, headers: list[tuple[bytes, bytes]], end_stream: bool) -> None:
        assert self._h3 is not None
        self._h3.send_headers(stream_id, headers, end_stream)
        self.transmit()
        if end_stream:
            self._exchanges.pop(stream_id, None)

    def reset_on_loop(self, stream_id: int) -> None:
        self._exchanges.pop(stream_id, None)
        self._quic.reset_stream(stream_id, ErrorCode.H3_REQUEST_CANCELLED)
        self.transmit()

    def unacknowledged(self, stream_id: int) -> int:
        # aioquic keeps what is unacknowledged in the stream's sender buffer (1.7.2's
        # QuicStreamSender._buffer); no public counter. A stream it dropped holds nothing.
        stream = self._quic._streams.get(stream_id)
        return 0 if stream is None else len(stream.sender._buffer)

    def call(self, fn: Any, *args: Any) -> Any:
        """Run ``fn(*args)`` on the loop from another thread and return its result;
        ConnectionResetError if the loop is gone or does not answer."""
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()

        def run() -> None:
            try:
                future.set_result(fn(*args))
            except BaseException as e:  # noqa: BLE001 - re-raised in the caller's thread
                future.set_exception(e)

        try:
            self._event_loop.call_soon_threadsafe(run)
            return future.result(LOOP_WAIT)
        except (RuntimeError, concurrent.futures.TimeoutError) as e:
            raise ConnectionResetError("the HTTP/3 listener has stopped") from e


class _Exchange:
    """One request stream: its connection object and the thread that answers it."""

    def __init__(
        self, protocol: _H3Protocol, site: Site | None, stream_id: int, pseudo: dict[str, str], fields: Headers
    ) -> None:
        self._protocol = protocol
        self._site = site
        self.stream_id = stream_id
        self.pseudo = pseudo
        self.fields = fields
        self.websocket = pseudo.get(":method") == "CONNECT" and pseudo.get(":protocol") == "websocket"
        self.connection = StreamConnection(self, protocol.peer_address(), protocol.local_address())
        if site is not None:
            self.connection.set_timeout(site.timeout)  # the idle timeout, as on TCP

    # -- stream_connection.Transport (from the handler's thread) ----------------

    def send(self, data: bytes, end_stream: bool) -> int:
        result: int = self._protocol.call(self._protocol.send_on_loop, self.stream_id, data, end_stream)
        return result

    def unacknowledged(self) -> int:
        return self._protocol.unacknowledged(self.stream_id)  # one len() under the GIL: no loop trip

    def credit_freed(self) -> None:
        # A transmit writes the stream's new credit (_stream_limits); no need to wait for it.
        try:
            self._protocol._event_loop.call_soon_threadsafe(self._protocol.transmit)
        except RuntimeError:
            pass  # the loop has stopped

    def send_headers(self, headers: list[tuple[bytes, bytes]], end_stream: bool) -> None:
        self._protocol.call(self._protocol.headers_on_loop, self.stream_id, headers, end_stream)

    # -- answering ----------------------------------------------------------------

    def run(self) -> None:
        started = time.monotonic()
        method, target = self.pseudo.get(":method", ""), self.pseudo.get(":path", "")
        try:
            if self._site is None:
                status = self._refuse(flow.Refusal(503, "the server is starting; retry in a moment"))
            elif self.websocket:
                status = self._websocket(self._site, target)
            elif method == "CONNECT":  # a tunnel, or another :protocol: not what this server does
                refusal = flow.Refusal(501, "only the extended CONNECT of RFC 9220 (:protocol websocket)")
                status = self._refuse(refusal)
            else:
                status = self._plain(self._site, method, target)
        except (ConnectionError, TimeoutError) as e:
            _log.info("%s %s: the stream ended before the answer did: %s", method, target, e)
            status = 0
        except Exception:
            _log.exception("%s %s: error answering over HTTP/3", method, target)
            status = 500
        if self._site is not None:
            request_line = f"{method} {target} HTTP/3"
            self._site.log_access(
                self.connection.remote_addr, request_line, status, started, self.fields.get("user-agent")
            )

    def _websocket(self, site: Site, target: str) -> int:
        connection = self.connection
        refusal = site.refuse_upgrade(target, self.fields)
        if refusal is not None:
            return self._refuse(refusal)
        request = WebSocketRequest(
            method="CONNECT",
            unparsed_uri=target,
            protocol="HTTP/3",
            headers_in=self.fields,
            connection=connection,
            is_https=True,
        )
        outcome = flow.handle_upgrade(
            request,
            site.dispatcher,
            site.stream_options,
            capacity=site.capacity,
            handshake=h3_handshake,
        )
        if outcome is flow.NOT_OURS:
            return self._refuse(flow.Refusal(404, "no WebSocket handler for this resource"))
        if isinstance(outcome, flow.Refusal):
            return self._refuse(outcome)
        if outcome is flow.ABORTED or not request.server_terminated:
            # No close of ours went (AbortedByUserException, a lost stream): on TCP the
            # socket would just be closed; here the stream is reset (H3_REQUEST_CANCELLED).
            if not connection.aborted:
                self._protocol.call(self._protocol.reset_on_loop, self.stream_id)
            return 200
        connection.end()  # our close went: the stream ends with our FIN (RFC 9220, RFC 8441 section 5)
        return 200

    def _refuse(self, refusal: flow.Refusal) -> int:
        """A refused WebSocket: the status (``:status 503`` past capacity, as on TCP), the
        refusal's headers and its reason as a plain-text body, as the TCP listener's."""
        return self._respond(*error_answer(refusal.status, refusal.message, refusal.headers))

    def _plain(self, site: Site, method: str, target: str) -> int:
        status, headers, body = site.plain_answer(method, target, self.fields)
        self._respond(status, headers, b"" if method == "HEAD" else body, length=len(body))
        return status

    def _respond(self, status: int, headers: list[tuple[str, str]], body: bytes, length: int | None = None) -> int:
        fields = [(b":status", str(status).encode()), (b"server", SERVER_TOKEN.encode())]
        fields += [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers]
        fields.append((b"content-length", str(len(body) if length is None else length).encode()))
        self.connection.send_headers(fields, end_stream=not body)
        if body:
            self.connection.write(body)
            self.connection.end()
        return status
