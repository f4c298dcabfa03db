"""The standalone server's listening sockets and accept loop, by socketserver's names.

pywebsocket3's server was a ``ThreadingMixIn`` ``HTTPServer``, and embedders call its
steps by those names: ``server_bind``, ``server_activate``, ``serve_forever``,
``handle_request``, ``get_request``, ``process_request``, ``finish_request``,
``shutdown_request``... ``SocketServerSteps`` is those steps over this server's own
parts: one socket per address (``_sockets``), a bounded pool of worker threads
(``_workers``) and a slot per connection (``_slots``), so a connection past the limit
waits in the listen backlog. ``server.WebSocketServer`` fills ``finish_request``.
"""

from __future__ import annotations

import logging
import select
import selectors
import socket
import time

_log = logging.getLogger("mod_pywebsocket.server")

LINGER = 2.0  # seconds to drain a closing connection, as Apache's lingering close does


def _lingering_close(sock: socket.socket) -> None:
    """Close without losing our last bytes: closing with unread input would send a TCP reset,
    which can destroy a close frame (or error response) the peer has not read yet."""
    try:
        sock.shutdown(socket.SHUT_WR)
        deadline = time.monotonic() + LINGER
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            if not sock.recv(65536):
                break
    except (OSError, ValueError):
        pass
    finally:
        sock.close()


class SocketServerSteps:
    """socketserver's steps and attributes; the subclass sets ``server_address``,
    ``request_queue_size``, ``_tls``, ``_slots``, ``_workers``, ``_stop`` and ``_stopped``."""

    # socketserver's class attributes, with the values this server uses.
    address_family = socket.AF_INET  # of the first socket; "::" gets an AF_INET6 one
    socket_type = socket.SOCK_STREAM
    request_queue_size = 5  # socketserver's; each server takes -q's (default 128)
    allow_reuse_address = True
    allow_reuse_port = False
    daemon_threads = True
    block_on_close = True  # shutdown() waits (a while) for the connections' threads
    timeout = None  # handle_request()'s wait for a connection; None: no limit
    _threads = ()  # ThreadingMixIn's list of request threads; ours are the worker pool's

    def _create_sockets(self) -> None:
        """``_sockets``: (socket, addrinfo) per address (no host: 0.0.0.0 and ::), unbound."""
        host, port = self.server_address
        self.server_name = host
        self._sockets = []
        for address in [host] if host else ["0.0.0.0", "::"]:
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            sock = socket.socket(family, self.socket_type)
            if self.allow_reuse_address:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            self._sockets.append((sock, (family, self.socket_type, 0, "", (address, port))))

    def server_bind(self) -> None:
        """Bind the sockets to one port (port 0: the one the first gets); a socket that
        cannot bind is dropped, and its error raised when none is left."""
        port, bound, error = self.server_address[1], [], None
        for sock, (family, kind, proto, name, (address, _)) in self._sockets:
            try:
                sock.bind((address, port))
            except OSError as e:
                sock.close()
                error = e
                continue
            port = sock.getsockname()[1]
            bound.append((sock, (family, kind, proto, name, sock.getsockname())))
        self._sockets = bound
        if not bound:
            assert error is not None
            raise error
        self.server_port = port
        self.server_address = (self.server_name, port)

    def server_activate(self) -> None:
        for sock, _ in self._sockets:
            sock.listen(self.request_queue_size)

    def fileno(self) -> int:
        return self._sockets[0][0].fileno()

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        self._stopped.clear()
        try:
            with selectors.DefaultSelector() as selector:
                for sock, _ in self._sockets:
                    selector.register(sock, selectors.EVENT_READ)
                while not self._stop.is_set():
                    for key, _ in selector.select(poll_interval):
                        if self._stop.is_set() or not self._take_slot(poll_interval):
                            break
                        self.socket = key.fileobj
                        self._handle_request_noblock()
                    self.service_actions()
        finally:
            self.socket = None
            self._stopped.set()

    def _take_slot(self, poll_interval: float) -> bool:
        """Wait for a free connection slot; False if the server stops meanwhile."""
        while not self._slots.acquire(timeout=poll_interval):
            if self._stop.is_set():
                return False
        return True

    def handle_request(self) -> None:
        """Wait (up to ``timeout``) for one connection and hand it to a worker thread."""
        ready = select.select([sock for sock, _ in self._sockets], [], [], self.timeout)[0]
        if not ready:
            self.handle_timeout()
            return
        self._slots.acquire()
        self.socket = ready[0]
        self._handle_request_noblock()

    def _handle_request_noblock(self) -> None:
        """Accept on ``socket`` and hand the connection to a worker, in the slot the caller took."""
        try:
            request, client_address = self.get_request()
        except OSError:
            self._slots.release()
            return
        if self.verify_request(request, client_address):
            self.process_request(request, client_address)
        else:
            self.shutdown_request(request)
            self._slots.release()

    def get_request(self) -> tuple[socket.socket, tuple]:
        """Accept on ``socket``. A TLS connection shakes hands later, in its own thread."""
        sock, client_address = (self.socket or self._sockets[0][0]).accept()
        if self._tls is not None:
            sock = self._tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, client_address

    def verify_request(self, request, client_address) -> bool:
        return True

    def process_request(self, request, client_address) -> None:
        """Serve the connection on a pooled thread (``process_request_thread``)."""
        self._workers.submit(request, client_address)

    def handle_timeout(self) -> None:
        """``handle_request()`` waited ``timeout`` for nothing (socketserver's hook)."""

    def service_actions(self) -> None:
        """Run once per turn of ``serve_forever``'s loop (socketserver's hook)."""

    def __enter__(self) -> SocketServerSteps:
        return self

    def __exit__(self, *exc_info) -> None:
        self.server_close()

    def server_close(self) -> None:
        for sock, _ in self._sockets:
            sock.close()

    def process_request_thread(self, request: socket.socket, client_address) -> None:
        """Serve one connection to its end, close it, and free its slot."""
        try:
            self.finish_request(request, client_address)
        except OSError as e:  # resets, timeouts, TLS errors
            _log.debug("connection from %s ended: %s", client_address[0], e)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)
            self._slots.release()

    def shutdown_request(self, request: socket.socket) -> None:
        _lingering_close(request)

    def close_request(self, request: socket.socket) -> None:
        request.close()

    def handle_error(self, request, client_address) -> None:
        """Log the exception being handled, raised serving ``client_address``."""
        _log.exception("unexpected error on a connection from %s", client_address[0])

    def finish_request(self, request: socket.socket, client_address) -> None:
        raise NotImplementedError
