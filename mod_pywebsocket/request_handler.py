"""pywebsocket3's ``request_handler``: its standalone server's per-connection handler, on ``http.server``.

This package's own server (``adapters.standalone.server``) reads requests itself and
does not use this class. ``WebSocketRequestHandler`` is for code that runs
pywebsocket3's handler class under a ``socketserver`` server of its own, as
pywebsocket3's server did: the server has ``websocket_server_options`` (the
standalone flags' namespace, with a ``dispatcher``). A WebSocket request for a
handler's resource is served through ``runtime.flow`` (handshake, handler, closing
handshake), as both of this package's servers serve it; any other request is
``http.server``'s, a file under ``--document-root``. CGI scripts are not run (501).

The request a handler gets is ``_StandaloneRequest`` (``runtime.request``'s, plus
pywebsocket3's getters), over ``_StandaloneConnection``: the handler's ``rfile``
(a ``memorizingfile.MemorizingFile``) and ``wfile``.
"""

from __future__ import annotations

import base64
import hmac
import http.client
import http.server
import os

from . import common, dispatch, handshake, http_header_util, memorizingfile, util  # noqa: F401 - pywebsocket3's names
from .runtime import compat, flow
from .runtime.blocking_stream import StreamOptions
from .runtime.request import WebSocketRequest

_MAX_MEMORIZED_LINES = 1024  # lines of the request head the connection keeps


class _StandaloneConnection:
    """``request.connection``: the request handler's files, as mod_python's connection."""

    # rfile.read(n) waits for all n bytes: the stream asks only for what the frame needs.
    read_returns_available = False

    def __init__(self, request_handler) -> None:
        self._request_handler = request_handler

    def get_local_addr(self) -> tuple:
        server = self._request_handler.server
        host, port = server.server_address[:2]
        return getattr(server, "server_name", host), getattr(server, "server_port", port)

    local_addr = property(get_local_addr)

    def get_remote_addr(self) -> tuple:
        return self._request_handler.client_address

    remote_addr = property(get_remote_addr)

    def write(self, data: bytes | bytearray | str) -> int:
        if isinstance(data, str):
            data = compat.connection_bytes(data)
        return self._request_handler.wfile.write(data)

    def read(self, length: int) -> bytes:
        return self._request_handler.rfile.read(length)

    def get_memorized_lines(self) -> list[bytes]:
        """The request head's lines, as read."""
        return self._request_handler.rfile.get_memorized_lines()


class _StandaloneRequest(WebSocketRequest):
    """The request handlers get: ``runtime.request.WebSocketRequest`` (which has pywebsocket3's
    getters) over the request handler's parsed request (its target is the resource by now)."""

    # pywebsocket3 had read-only properties by these names; here instance attributes.
    uri = unparsed_uri = method = protocol = None

    def __init__(self, request_handler, use_tls: bool) -> None:
        self._request_handler = request_handler
        super().__init__(
            method=request_handler.command,
            unparsed_uri=request_handler.path,
            protocol=request_handler.request_version,
            headers_in=request_handler.headers,
            connection=_StandaloneConnection(request_handler),
            is_https=use_tls,
        )


class WebSocketRequestHandler(http.server.SimpleHTTPRequestHandler):
    """Serves one connection of a ``socketserver`` server whose ``websocket_server_options``
    are the standalone server's: WebSocket requests through the handlers, the rest as files."""

    MessageClass = http.client.HTTPMessage
    cgi_directories: list[str] = []  # from the options' cgi_directories (-x)
    have_fork = hasattr(os, "fork")

    def __init__(self, request, client_address, server) -> None:
        self._logger = util.get_class_logger(self)
        self._options = server.websocket_server_options
        self.cgi_directories = list(getattr(self._options, "cgi_directories", None) or [])
        is_executable = getattr(self._options, "is_executable_method", None)
        if is_executable is not None:
            self.is_executable = is_executable
        document_root = getattr(self._options, "document_root", None)
        super().__init__(request, client_address, server, directory=document_root)

    def setup(self) -> None:
        """The socket's files; the request file remembers the head's lines."""
        super().setup()
        self.rfile = memorizingfile.MemorizingFile(self.rfile, max_memorized_lines=_MAX_MEMORIZED_LINES)

    def parse_request(self) -> bool:
        """``http.server``'s parsing, then: True to answer as plain HTTP, False once answered
        here (a WebSocket session, or a refusal)."""
        if not super().parse_request() or not self._authorized():
            return False
        host, port, resource = http_header_util.parse_uri(self.path)
        if resource is None or not self._is_for_this_server(host, port):
            return True
        self.path = resource
        dispatcher = self._options.dispatcher
        try:
            if dispatcher.get_handler_suite(self.path) is None:
                self._logger.info("No handler for resource: %r", self.path)
                return True
        except dispatch.DispatchException as e:
            self._logger.info("Dispatch failed for error: %s", e)
            self.send_error(e.status)
            return False
        self._serve_websocket(dispatcher)
        return False

    def _authorized(self) -> bool:
        """Whether the request may go on (``--basic-auth``); answers 401 when not."""
        if not getattr(self._options, "use_basic_auth", False):
            return True
        expected = self._options.basic_auth_credential
        if not expected.startswith("Basic "):  # the standalone server's options keep user:password
            expected = "Basic " + base64.b64encode(expected.encode("utf-8")).decode("ascii")
        given = self.headers.get("Authorization") or ""
        if hmac.compare_digest(given.encode("latin-1", "replace"), expected.encode("latin-1", "replace")):
            return True
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="Pywebsocket"')
        self.end_headers()
        self._logger.info("Request basic authentication")
        return False

    def _is_for_this_server(self, host: str | None, port: int | None) -> bool:
        """An absolute ``ws://`` target must name ``--validation-host`` and ``--validation-port``
        when they are given; a request that does not is answered as plain HTTP."""
        for name, value in (("validation_host", host), ("validation_port", port)):
            expected = getattr(self._options, name, None)
            if value is not None and expected is not None and value != expected:
                self._logger.info("Invalid %s: %r (expected: %r)", name[len("validation_") :], value, expected)
                return False
        return True

    def _serve_websocket(self, dispatcher) -> None:
        request = _StandaloneRequest(self, bool(getattr(self._options, "use_tls", False)))
        outcome = flow.handle_upgrade(request, dispatcher, StreamOptions())
        if isinstance(outcome, flow.Refusal):
            self.send_response(outcome.status)
            for name, value in outcome.headers:
                self.send_header(name, value)
            self.send_header("Content-Length", "0")
            self.end_headers()
        self.close_connection = True

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        self._logger.info('"%s" %s %s', self.requestline, code, size)

    def log_error(self, *args) -> None:
        self._logger.warning("%s - %s", self.address_string(), args[0] % args[1:])

    # -- CGI: recognised under cgi_directories (-x), never run ---------------------

    def is_cgi(self) -> bool:
        """Whether the request names an executable file in one of ``cgi_directories``."""
        path = self.path.split("?", 1)[0]
        if ".." in path or not any(path.startswith(d.rstrip("/") + "/") for d in self.cgi_directories):
            return False
        script = self.translate_path(path)
        return os.path.isfile(script) and self.is_executable(script)

    def is_executable(self, path: str) -> bool:
        return os.access(path, os.X_OK)

    def is_python(self, path: str) -> bool:
        return os.path.splitext(path)[1].lower() in (".py", ".pyw")

    def run_cgi(self) -> None:
        self.send_error(501, "CGI scripts are not run by this server")

    def send_head(self):
        if self.is_cgi():
            return self.run_cgi()
        return super().send_head()

    def do_POST(self) -> None:
        if self.is_cgi():
            self.run_cgi()
        else:
            self.send_error(501, "Can only POST to CGI scripts")
