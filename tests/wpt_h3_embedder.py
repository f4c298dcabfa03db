"""An RFC 9220 server that embeds this package the way web-platform-tests' HTTP/3 server does.

web-platform-tests (``tools/websocket/h3``) serves pywebsocket3 handlers over HTTP/3
without any of pywebsocket3's servers: for each extended CONNECT it builds a request
object of its own, runs a ``HandshakerBase`` subclass (which fills ``status`` and
``headers_out`` instead of writing a 101), sends the HTTP/3 response itself, then runs
``dispatcher.transfer_data(request)`` on a thread of its own, with a
``request.connection`` whose ``read(n)`` is a blocking pipe read and whose
``write(data)`` sends DATA from the event loop. This module is our own server of
that shape, for the tests: it imports the package only through the ``pywebsocket3``
names and only what that server uses.

    server = EmbeddingH3Server(handler_root, cert, key)
    port = server.start()
    ...
    server.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import queue
import threading
from collections.abc import Iterable
from typing import Any

from aioquic.asyncio import QuicConnectionProtocol, serve
from aioquic.h3.connection import H3_ALPN, H3Connection
from aioquic.h3.events import DataReceived, H3Event, HeadersReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import ConnectionTerminated, ProtocolNegotiated, QuicEvent, StreamReset

# A wheel install registers the pywebsocket3 name at interpreter start-up (its .pth
# file runs this); an editable install, like this checkout's venv, has no .pth file.
import mod_pywebsocket.runtime.aliases as _aliases

_aliases.install_fallback()

from pywebsocket3 import common, dispatch  # noqa: E402 - the name exists only from here on
from pywebsocket3.handshake.base import (  # noqa: E402
    AbortedByUserException,
    HandshakeException,
    HandshakerBase,
    get_mandatory_header,
    validate_mandatory_header,
)

_log = logging.getLogger("tests.wpt_h3_embedder")

#: Seconds a handler thread waits for the event loop to send its DATA.
WRITE_TIMEOUT = 10.0
#: Response header names HTTP/3 forbids (RFC 9114 section 4.2), dropped from headers_out.
CONNECTION_SPECIFIC = frozenset({"connection", "upgrade", "keep-alive", "proxy-connection", "transfer-encoding"})


class RequestHeaders(dict):
    """``headers_in``: the request's fields under their (lower-case) HTTP/3 names, the
    pseudo-headers under both ``:name`` and ``name``; lookups ignore case.

    web-platform-tests' own mapping is a plain dict of lower-case names, so every name
    looked up is kept in ``lookups``: a test can check that the package only asks for
    names as ``_transform_header`` gives them.
    """

    def __init__(self, fields: Iterable[tuple[bytes, bytes]]) -> None:
        super().__init__()
        self.lookups: list[str] = []
        for raw_name, raw_value in fields:
            name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
            if dict.__contains__(self, name):
                separator = "; " if name == "cookie" else ", "
                value = dict.__getitem__(self, name) + separator + value
            dict.__setitem__(self, name, value)
            if name.startswith(":"):
                dict.__setitem__(self, name[1:], value)

    def __getitem__(self, name: str) -> str:
        self.lookups.append(name)
        return dict.__getitem__(self, name.lower())

    def get(self, name: str, default: Any = None) -> Any:
        self.lookups.append(name)
        return dict.get(self, name.lower(), default)

    def __contains__(self, name: object) -> bool:
        if isinstance(name, str):
            self.lookups.append(name)
            name = name.lower()
        return dict.__contains__(self, name)


class PipeConnection:
    """``request.connection``: reads from the pipe the stream's DATA is fed into, writes
    DATA on the event loop."""

    def __init__(self, protocol: EmbeddingProtocol, stream_id: int, rfile: Any) -> None:
        self._protocol = protocol
        self._stream_id = stream_id
        self._rfile = rfile
        self.remote_addr = protocol.peer_address
        self.written = 0

    def read(self, length: int) -> bytes:
        return self._rfile.read(length)  # blocks for ``length`` bytes, or less at the end

    def write(self, data: bytes) -> None:
        data = bytes(data)
        self._protocol.call_on_loop(self._protocol.send_data, self._stream_id, data, False)
        self.written += len(data)


class ConnectRequest:
    """The request object handed to the handshaker and the dispatcher."""

    def __init__(self, headers: RequestHeaders, connection: PipeConnection) -> None:
        self.connection = connection
        self.protocol = "HTTP/3"
        self.uri = dict.get(headers, ":path", "/")
        self.unparsed_uri = self.uri
        self.method = dict.get(headers, ":method", "")
        self.headers_in = headers
        self.headers_out: dict[str, str] = {}
        self.status = 0
        self._dispatcher: Any = None

    def is_https(self) -> bool:
        return True


class RFC9220Handshaker(HandshakerBase):
    """The opening handshake of an extended CONNECT: checks, then ``status``/``headers_out``."""

    def _transform_header(self, header: str) -> str:
        return header.lower()

    def _protocol_rfc(self) -> str:
        return "RFC 9220"

    def _validate_request(self) -> None:
        if self._request.method != "CONNECT":
            raise HandshakeException(f"an RFC 9220 handshake is a CONNECT, not {self._request.method!r}")
        validate_mandatory_header(self._request, ":protocol", "websocket")
        get_mandatory_header(self._request, "authority")

    def _set_accept(self) -> None:
        pass  # no Sec-WebSocket-Key/Accept over HTTP/3

    def _send_handshake(self) -> None:
        request = self._request
        request.status = 200
        if request.ws_protocol is not None:
            request.headers_out["sec-websocket-protocol"] = request.ws_protocol
        if request.ws_extensions:
            request.headers_out["sec-websocket-extensions"] = common.format_extensions(request.ws_extensions)


class Session:
    """One CONNECT stream: its request, the pipe its DATA goes into, the handler's thread."""

    def __init__(self, protocol: EmbeddingProtocol, stream_id: int, headers: RequestHeaders, root: str) -> None:
        self.protocol = protocol
        self.stream_id = stream_id
        self.path = dict.get(headers, ":path", "/")
        self.dispatcher = dispatch.Dispatcher(root, None, False)
        rfd, wfd = os.pipe()
        self._rfile = os.fdopen(rfd, "rb")
        self._wfile = os.fdopen(wfd, "wb", buffering=0)
        self.request = ConnectRequest(headers, PipeConnection(protocol, stream_id, self._rfile))
        # The loop never blocks on the pipe: a feeder thread writes what arrives.
        self._inbox: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._feeder = threading.Thread(target=self._feed, name=f"h3-feed-{stream_id}", daemon=True)
        self._feeder.start()
        self.handler_thread: threading.Thread | None = None
        self.finished = threading.Event()
        #: How transfer_data ended: "returned", or the name of what it raised.
        self.outcome: str | None = None
        #: What the handshake answered: the :status sent, or the exception's class name.
        self.handshake_result: str | None = None

    # -- the pipe ------------------------------------------------------------------

    def _feed(self) -> None:
        broken = False
        while (data := self._inbox.get()) is not None:
            if broken:
                continue
            try:
                self._wfile.write(data)
            except (OSError, ValueError):
                broken = True  # the handler is gone: drop the rest
        with contextlib.suppress(OSError, ValueError):
            self._wfile.close()

    def feed(self, data: bytes) -> None:
        self._inbox.put(data)

    def feed_eof(self) -> None:
        """The client's side ended (FIN, reset, connection gone): reads see the end."""
        self._inbox.put(None)

    # -- the handshake and the handler ---------------------------------------------

    def handshake(self) -> bool:
        """On a worker thread: False when no handler serves the path."""
        if not self.dispatcher.get_handler_suite(self.path):
            return False
        RFC9220Handshaker(self.request, self.dispatcher).do_handshake()
        return True

    def start_handler(self) -> None:
        self.handler_thread = threading.Thread(target=self._run, name=f"h3-ws-{self.stream_id}", daemon=True)
        self.handler_thread.start()

    def _run(self) -> None:
        try:
            self.dispatcher.transfer_data(self.request)
            self.outcome = "returned"
        except AbortedByUserException:
            self.outcome = "AbortedByUserException"
        except Exception as e:
            self.outcome = type(e).__name__
            _log.exception("stream %d: transfer_data raised", self.stream_id)
        try:
            self.protocol.call_on_loop(self.protocol.send_data, self.stream_id, b"", True)
        except Exception:
            _log.debug("stream %d: could not end the stream", self.stream_id, exc_info=True)
        finally:
            self.close()
            self.finished.set()

    def close(self) -> None:
        self.feed_eof()
        with contextlib.suppress(OSError, ValueError):
            self._rfile.close()


class EmbeddingProtocol(QuicConnectionProtocol):
    """One QUIC connection: CONNECT streams become sessions, anything else gets an error."""

    def __init__(self, *args: Any, server: EmbeddingH3Server, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._server = server
        self._http: H3Connection | None = None
        self.sessions: dict[int, Session] = {}
        self.peer_address: tuple[str, int] = ("unknown", 0)  # as web-platform-tests' server has it

    # -- called on the loop --------------------------------------------------------

    def quic_event_received(self, event: QuicEvent) -> None:
        if isinstance(event, ProtocolNegotiated) and event.alpn_protocol in H3_ALPN:
            self._http = H3Connection(self._quic)
        if self._http is not None:
            for h3_event in self._http.handle_event(event):
                self._h3_event(h3_event)
        if isinstance(event, StreamReset):
            session = self.sessions.pop(event.stream_id, None)
            if session is not None:
                session.feed_eof()
        elif isinstance(event, ConnectionTerminated):
            self.close_sessions()

    def _h3_event(self, event: H3Event) -> None:
        if isinstance(event, HeadersReceived):
            fields = dict(event.headers)
            if fields.get(b":method") == b"CONNECT" and fields.get(b":protocol") == b"websocket":
                session = Session(self, event.stream_id, RequestHeaders(event.headers), self._server.root)
                self.sessions[event.stream_id] = session
                self._server.sessions.append(session)
                self._server.track(asyncio.ensure_future(self._open(session)))
                if event.stream_ended:
                    session.feed_eof()
            elif fields.get(b":method") == b"CONNECT":
                self.send_error(event.stream_id, 501)
            else:
                self.send_error(event.stream_id, 405)
        elif isinstance(event, DataReceived):
            session = self.sessions.get(event.stream_id)
            if session is None:
                return
            if event.data:
                session.feed(event.data)
            if event.stream_ended:
                session.feed_eof()

    async def _open(self, session: Session) -> None:
        stream_id, request = session.stream_id, session.request
        try:
            served = await asyncio.to_thread(session.handshake)
        except HandshakeException as e:
            session.handshake_result = type(e).__name__
            self._drop(session)
            self.send_error(stream_id, e.status or 400)
            return
        except AbortedByUserException:
            session.handshake_result = "AbortedByUserException"
            self._drop(session)
            self.send_response(stream_id, request, end_stream=True)
            return
        except Exception:
            _log.exception("stream %d: the handshake failed", stream_id)
            session.handshake_result = "error"
            self._drop(session)
            self.send_error(stream_id, 500)
            return
        if not served:
            session.handshake_result = "404"
            self._drop(session)
            self.send_error(stream_id, 404)
            return
        if self.sessions.get(stream_id) is not session:  # reset meanwhile
            session.handshake_result = "reset"
            session.close()
            session.finished.set()
            return
        session.handshake_result = str(request.status)
        request._dispatcher = session.dispatcher  # as pywebsocket3's own servers set it
        self.send_response(stream_id, request, end_stream=False)
        session.start_handler()

    def _drop(self, session: Session) -> None:
        self.sessions.pop(session.stream_id, None)
        session.close()
        session.finished.set()

    def send_error(self, stream_id: int, status: int) -> None:
        assert self._http is not None
        self._http.send_headers(stream_id, [(b":status", str(status).encode())], end_stream=True)
        self.transmit()

    def send_response(self, stream_id: int, request: ConnectRequest, end_stream: bool) -> None:
        assert self._http is not None
        fields = [(b":status", str(request.status or 403).encode())]
        for name, value in [*request.headers_out.items(), *(getattr(request, "extra_headers", None) or [])]:
            name = name.decode("ascii") if isinstance(name, bytes) else str(name)
            if name.lower() in CONNECTION_SPECIFIC:
                continue
            raw = value if isinstance(value, bytes) else str(value).encode("latin-1")
            fields.append((name.lower().encode("ascii"), raw))
        self._http.send_headers(stream_id, fields, end_stream=end_stream)
        self.transmit()

    def send_data(self, stream_id: int, data: bytes, end_stream: bool) -> None:
        if self._http is None:
            raise ConnectionError("no HTTP/3 connection")
        self._http.send_data(stream_id, data, end_stream=end_stream)
        self.transmit()

    def close_sessions(self) -> None:
        for session in list(self.sessions.values()):
            session.feed_eof()
        self.sessions.clear()

    # -- called from other threads -------------------------------------------------

    def call_on_loop(self, function: Any, *args: Any) -> Any:
        async def call() -> Any:
            return function(*args)

        return asyncio.run_coroutine_threadsafe(call(), self._loop).result(timeout=WRITE_TIMEOUT)


class EmbeddingH3Server:
    """aioquic's ``serve`` on an event loop of its own thread, serving ``root``'s handlers."""

    def __init__(self, root: str, cert_path: str, key_path: str, host: str = "127.0.0.1") -> None:
        self.root = root
        self.host = host
        self.port = 0
        self._cert_path, self._key_path = cert_path, key_path
        self.sessions: list[Session] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._quic_server: Any = None
        self._tasks: set[asyncio.Future[Any]] = set()
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def track(self, task: asyncio.Future[Any]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def start(self, timeout: float = 10.0) -> int:
        self._thread = threading.Thread(target=self._main, name="h3-embedding-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError(f"the HTTP/3 server did not start in {timeout} s")
        if self._error is not None:
            raise self._error
        return self.port

    def _main(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        try:
            configuration = QuicConfiguration(alpn_protocols=H3_ALPN, is_client=False, max_datagram_frame_size=65536)
            configuration.load_cert_chain(self._cert_path, self._key_path)
            self._quic_server = loop.run_until_complete(
                serve(
                    self.host,
                    0,
                    configuration=configuration,
                    create_protocol=lambda *a, **kw: EmbeddingProtocol(*a, server=self, **kw),
                )
            )
            self.port = self._quic_server._transport.get_extra_info("sockname")[1]
        except BaseException as e:
            self._error = e
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            for task in list(self._tasks):
                task.cancel()
            if self._tasks:
                loop.run_until_complete(asyncio.gather(*self._tasks, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()

    def stop(self, timeout: float = 5.0) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or not thread.is_alive():
            return

        def shut() -> None:
            if self._quic_server is not None:
                for protocol in list(getattr(self._quic_server, "_protocols", {}).values()):
                    protocol.close_sessions()
                self._quic_server.close()
            loop.stop()

        loop.call_soon_threadsafe(shut)
        thread.join(timeout)
        for session in self.sessions:
            session.feed_eof()  # the handler's reads end; its thread closes the pipe itself
            if session.handler_thread is not None:
                session.handler_thread.join(timeout)
            else:
                session.close()
