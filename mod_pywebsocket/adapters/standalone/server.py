"""The standalone server: sockets and threads around the same core the Apache adapter uses.

One thread per connection, bounded by ``max_connections`` (beyond it, new
connections wait in the listen backlog). The TLS handshake and the request
head are read in the connection's own thread, under a timeout, so a silent
client holds one thread for a while and never the accept loop.
"""

from __future__ import annotations

import json
import logging
import os
import select
import shutil
import socket
import ssl
import struct
import tempfile
import threading
import time

from ...core import accelerators
from ...core.handshake import is_websocket_upgrade
from ...runtime import compat, flow, registry, settings
from ...runtime.capacity import SPARE_THREADS
from ...runtime.listeners import Listener, document, local_addresses, summary
from ...runtime.request import WebSocketRequest
from .http_head import HttpError, error_response, format_response, read_request_head
from .listener import SocketServerSteps
from .site import Site
from .workers import WorkerPool

_log = logging.getLogger("mod_pywebsocket.server")
# The ready line goes where the "listening on" line does (cli shows this logger at info).
_ready_log = logging.getLogger("mod_pywebsocket.standalone")


_send_ready = accelerators.load("_speedups", "send_ready")  # a send that keeps the GIL, when built
# Bigger writes release the GIL as usual: the kernel's copy of them takes a while.
QUICK_SEND_MAX = 64 * 1024

# The same TLS 1.2 suites as the appliance's SSLCipherSuite: forward secrecy and AEAD only.
TLS12_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:!aNULL:!MD5:!SHA1"


class SocketConnection:
    """``request.connection`` for the standalone server: a socket plus bytes read past the head."""

    read_returns_available = True  # read(n) has socket semantics: up to n bytes, what has arrived

    def __init__(self, sock: socket.socket, leftover: bytes, remote_addr, local_addr, head_lines=()) -> None:
        self._sock = sock
        self._head_lines = list(head_lines)
        # Plain sockets try a send that keeps the GIL first (see _speedups.send_ready).
        self._quick_send = _send_ready is not None and not isinstance(sock, ssl.SSLSocket)
        self._leftover = leftover
        self.remote_addr = remote_addr
        self.local_addr = local_addr
        self._read_timeout: float | None = None

    def get_remote_addr(self):
        return self.remote_addr

    def get_local_addr(self):
        return self.local_addr

    def get_memorized_lines(self) -> list[bytes]:
        """The request head's lines as they came (pywebsocket3's name)."""
        return list(self._head_lines)

    def set_read_timeout(self, seconds: float | None) -> None:
        """From now on a read that finds nothing within ``seconds`` raises TimeoutError
        (None: the connection's own idle timeout again). For the client-conformance
        cases, which wait for a client for a second or two at a time."""
        self._read_timeout = seconds

    def read(self, length: int) -> bytes:
        if self._leftover:
            data, self._leftover = self._leftover[:length], self._leftover[length:]
            return data
        if self._read_timeout is not None and not _has_pending(self._sock):
            poller = select.poll()
            poller.register(self._sock, select.POLLIN)
            if not poller.poll(max(self._read_timeout, 0.0) * 1000):
                raise TimeoutError("no data within the timeout")
        try:
            return self._sock.recv(length)  # TimeoutError on an idle timeout; retrying is safe
        except BlockingIOError:  # SO_RCVTIMEO expired (see set_io_timeout)
            raise TimeoutError("no data within the timeout") from None

    def write(self, data: bytes | bytearray | str) -> None:
        if isinstance(data, str):
            data = compat.connection_bytes(data)
        if self._quick_send and len(data) <= QUICK_SEND_MAX:
            assert _send_ready is not None
            # fileno() and the send hold the GIL throughout: no other thread can close the
            # socket (and have its number reused) in between; a closed one is -1, EBADF.
            sent = _send_ready(self._sock.fileno(), data)
            if sent == len(data):
                return
            if sent:
                data = memoryview(data)[sent:]
        try:
            self._sock.sendall(data)
        except BlockingIOError:  # SO_SNDTIMEO expired: the peer stopped reading
            raise TimeoutError("the peer has not read for the whole timeout") from None


def _has_pending(sock: socket.socket) -> bool:
    """Whether TLS has decrypted bytes buffered (poll() on the socket would not see them)."""
    return isinstance(sock, ssl.SSLSocket) and sock.pending() > 0


def set_io_timeout(sock: socket.socket, seconds: float) -> None:
    """Time out reads and writes after ``seconds``.

    A Python-level timeout costs a poll() before every recv and send; for plain
    sockets the kernel's SO_RCVTIMEO/SO_SNDTIMEO do the same job with half the
    system calls per message. TLS sockets keep the Python timeout (the ssl
    module would retry a timed-out blocking read forever).
    """
    if isinstance(sock, ssl.SSLSocket):
        sock.settimeout(seconds)
        return
    sock.settimeout(None)
    whole = int(seconds)
    timeval = struct.pack("@ll", whole, int((seconds - whole) * 1_000_000))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeval)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, timeval)


class WebSocketServer(SocketServerSteps):
    """Serve WebSocket handlers and static files; the embedding API web-platform-tests uses.

    ``options`` is the namespace ``standalone._parse_args_and_config`` returns
    (attributes it lacks get defaults, extra ones are ignored). Its steps are
    socketserver's, by the names pywebsocket3's server (a ``ThreadingMixIn``
    ``HTTPServer``) has: ``server_bind``, ``server_activate``, ``get_request``,
    ``process_request`` (on a pooled thread), ``finish_request``, ``shutdown_request``...
    """

    def __init__(self, options) -> None:
        self._options = options
        self._logger = _log
        opt = lambda name, default=None: getattr(options, name, default)  # noqa: E731
        self.site = site = Site(options)
        # The names this class had before the site was its own object (embedders and tests).
        self._dispatcher, self._stream_options, self._capacity = site.dispatcher, site.stream_options, site.capacity
        self._timeout = site.timeout
        self._header_timeout = float(opt("header_timeout", settings.default("header_timeout")))
        self._tls = self._make_tls_context() if opt("use_tls", False) else None
        limit = int(opt("max_connections", settings.default("max_connections")))
        # A thread per connection; the spare ones answer upgrades past the limit (503).
        self._slots = threading.BoundedSemaphore(limit + SPARE_THREADS)
        self._workers = WorkerPool(self.process_request_thread)
        self._stop = threading.Event()
        self._stopped = threading.Event()
        self._stopped.set()
        self.websocket_server_options = options  # pywebsocket3's names for the options
        options.dispatcher = self._dispatcher  # and the dispatcher
        self.request_queue_size = int(opt("request_queue_size", 128))
        self.server_address = (opt("server_host", "") or "", int(opt("port", 80)))
        self.socket: socket.socket | None = None  # the listening socket being accepted on
        self._create_sockets()
        self.server_bind()
        self.server_activate()
        self.scheme = "wss" if self._tls else "ws"
        self.site.not_ready = "starting"  # /mod_pywebsocket/ready: 503 until serve_forever
        self.h3 = self._start_h3(opt("h3_port"))

    def _start_h3(self, port: int | None):
        """The HTTP/3 listener (``--h3-port``) on the same site, or None. Its certificate is
        --certificate's, else a fresh one of the kind Chromium takes (``h3.certificate``)."""
        if port is None:
            return None
        from .. import h3

        why = h3.missing()
        if why is not None:
            raise RuntimeError(why)
        from ..h3.certificate import spki_hash, write_certificate
        from ..h3.server import H3Listener

        o = self._options
        certificate, key = getattr(o, "certificate", ""), getattr(o, "private_key", "")
        self._h3_dir = tempfile.mkdtemp(prefix="mod_pywebsocket-h3-")  # removed at shutdown
        if not (certificate and key):
            host = getattr(o, "server_host", "") or "localhost"
            names = ["localhost", "127.0.0.1", "::1"] + ([host] if host not in ("localhost", "0.0.0.0", "::") else [])
            certificate, key = write_certificate(self._h3_dir, names)
        with open(certificate, "rb") as f:
            self.h3_spki = spki_hash(f.read())
        self.site.spki_file = spki_file = os.path.join(self._h3_dir, "spki.txt")
        with open(spki_file, "w", encoding="ascii") as f:
            f.write(self.h3_spki + "\n")
        listener = H3Listener(
            self.site, self.server_address[0] or "::", port, certificate, key, self.site.timeout,
            keylog=getattr(o, "tls_keylog", "") or None,
        )  # fmt: skip
        listener.start()
        return listener

    # -- set-up ---------------------------------------------------------------

    def _make_tls_context(self) -> ssl.SSLContext:
        o = self._options
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.set_ciphers(TLS12_CIPHERS)  # TLS 1.3's suites are all modern
        context.load_cert_chain(o.certificate, o.private_key)
        keylog = getattr(o, "tls_keylog", "")
        if keylog:
            context.keylog_filename = keylog  # NSS key log lines, appended (--tls-keylog)
        # TLS 1.3 tickets arriving after the handshake make threaded clients lose requests.
        context.num_tickets = 0
        if getattr(o, "tls_client_auth", False):
            optional = getattr(o, "tls_client_cert_optional", False)
            context.verify_mode = ssl.CERT_OPTIONAL if optional else ssl.CERT_REQUIRED
            if getattr(o, "tls_client_ca", ""):
                context.load_verify_locations(o.tls_client_ca)
        return context

    # -- readiness ------------------------------------------------------------

    def listeners(self) -> list[Listener]:
        """What this server listens on, as bound (port 0 has become a real port)."""
        bound = tuple((address[4][0], address[4][1]) for _, address in self._sockets)
        out = [Listener(self.scheme, "tcp", ("HTTP/1.1",), bound)]
        if self.h3 is not None:
            out.append(Listener("h3", "udp", ("HTTP/3",), ((self.h3.address[0], self.h3.address[1]),)))
        return out

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        """Serve until ``shutdown``; the first call says ready: every listener is bound and
        listening (HTTP/3's loop runs since ``start``), and this loop accepts from now on."""
        if self.site.ready_document is None and not self._stop.is_set():
            listeners, local = self.listeners(), local_addresses()
            body = document("standalone", listeners, local, time.time())
            self.site.ready_document = (json.dumps(body, indent=1) + "\n").encode("utf-8")
            _ready_log.info("ready: %s", summary(listeners, local))
        super().serve_forever(poll_interval)

    def shutdown(self, grace: float = 5.0) -> None:
        """Stop accepting, close open WebSockets with 1001, and wait (up to ``grace``) for them."""
        self.site.ready_document, self.site.not_ready = None, "stopping"
        self._stop.set()
        self._stopped.wait()
        closed = registry.close_all()
        if closed:
            _log.info("closed %d WebSocket(s) with 1001", closed)
        if not self._workers.wait_idle(grace):
            _log.info("stopping: connections still open after %gs are cut", grace)
        self._workers.stop_idle()
        if self.h3 is not None:
            self.h3.stop()
            shutil.rmtree(self._h3_dir, ignore_errors=True)

    # -- one connection -------------------------------------------------------

    def finish_request(self, request: socket.socket, client_address) -> None:
        """TLS handshake and request head within the header timeout, then the answer."""
        # Frames go out whole: without this, Nagle's algorithm holds a frame's last
        # segment back until the peer's delayed ACK (tens of ms per message).
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        deadline = time.monotonic() + self._header_timeout
        request.settimeout(self._header_timeout)
        if isinstance(request, ssl.SSLSocket):
            request.do_handshake()
        self._serve_request(request, client_address, deadline)

    def _serve_request(self, sock: socket.socket, addr, deadline: float) -> None:
        started = time.monotonic()

        def recv(size: int) -> bytes:  # the whole head by the deadline, however slowly it trickles
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("request head not complete in time")
            sock.settimeout(left)
            return sock.recv(size)

        try:
            head, leftover = read_request_head(recv)
        except HttpError as e:
            sock.sendall(error_response(e.status, str(e)))
            self._log_access(addr, "-", e.status, started)
            return
        except TimeoutError:
            self._log_access(addr, "-", 408, started)
            return
        request_line = f"{head.method} {head.target} {head.version}"
        if is_websocket_upgrade(head.headers):
            refusal = self.site.refuse_upgrade(head.target, head.headers)
            status = self._refuse(sock, refusal) if refusal is not None else None
            if status is None:
                status = self._serve_websocket(sock, addr, head, leftover)
            if status is not None:
                self._log_access(addr, request_line, status, started)
                return
        status, headers, body = self.site.plain_answer(head.method, head.target, head.headers)
        sock.sendall(format_response(status, headers, body, head_only=head.method == "HEAD"))
        self._log_access(addr, request_line, status, started)

    @staticmethod
    def _refuse(sock: socket.socket, refusal: flow.Refusal) -> int:
        sock.sendall(error_response(refusal.status, refusal.message, refusal.headers))
        return refusal.status

    def _serve_websocket(self, sock: socket.socket, addr, head, leftover: bytes) -> int | None:
        """Handshake and run the handler; None when no handler serves the resource."""
        request = WebSocketRequest(
            method=head.method,
            unparsed_uri=head.target,
            protocol=head.version,
            headers_in=head.headers,
            connection=SocketConnection(sock, leftover, addr, sock.getsockname(), head.lines),
            is_https=self._tls is not None,
        )
        outcome = flow.handle_upgrade(
            request,
            self._dispatcher,
            self._stream_options,
            on_accept=lambda: set_io_timeout(sock, self._timeout),
            capacity=self._capacity,
        )
        if outcome is flow.NOT_OURS:
            return None
        if isinstance(outcome, flow.Refusal):
            return self._refuse(sock, outcome)
        return 101  # served, or aborted by the handler: the access log shows the upgrade

    def _log_access(self, addr, request_line: str, status: int, started: float) -> None:
        self.site.log_access(addr, request_line, status, started)
