"""Embedding as web-platform-tests does: ``tools/serve`` runs the standalone server in its
own process through pywebsocket's functions, and wptserve bootstraps WebSockets over
HTTP/2 with ``dispatch.Dispatcher`` and a ``handshake.base.HandshakerBase`` subclass."""

from __future__ import annotations

import socket
import ssl
import threading

import pytest
from websockets.sync.client import connect

from mod_pywebsocket import common, dispatch, standalone
from mod_pywebsocket.handshake.base import (
    HandshakeException,
    HandshakerBase,
    get_mandatory_header,
    validate_mandatory_header,
)

from ..servers import ROOT, make_certificate
from .rawhttp import RawWebSocket

pytestmark = pytest.mark.integration

WPT_HANDLERS = ROOT / "tests" / "integration" / "wpt_handlers"


@pytest.mark.parametrize("tls", [False, True], ids=["ws", "wss"])
def test_tools_serve_embedding(tmp_path, tls):
    args = ["-p", "0", "-d", str(ROOT), "-w", str(WPT_HANDLERS), "-H", "127.0.0.1"]
    client_ssl = None
    if tls:
        cert, key = make_certificate(tmp_path)
        args += ["--tls", "--private-key", str(key), "--certificate", str(cert)]
        client_ssl = ssl.create_default_context(cafile=str(cert))
    opts, _ = standalone._parse_args_and_config(args)
    opts.cgi_directories = []
    opts.is_executable_method = None
    server = standalone.WebSocketServer(opts)
    ports = [item[0].getsockname()[1] for item in server._sockets]
    assert ports and all(port == ports[0] for port in ports) and ports[0] != 0
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        scheme = "wss" if tls else "ws"
        with connect(f"{scheme}://127.0.0.1:{ports[0]}/echo", ssl=client_ssl, open_timeout=10) as conn:
            conn.send("embedded")
            assert conn.recv(timeout=10) == "embedded"
    finally:
        server.shutdown()
        server.server_close()
    thread.join(10)
    assert not thread.is_alive()


class H2Request:
    """The request wptserve builds for an extended CONNECT stream (RFC 8441)."""

    def __init__(self, path: str, headers: dict[str, str], connection) -> None:
        self.method = "CONNECT"
        self.protocol = "HTTP/2"
        self.uri = self.unparsed_uri = path
        self.headers_in = headers
        self.headers_out: dict[str, str] = {}
        self.status: int | None = None
        self.connection = connection


class SocketConnection:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.remote_addr = ("127.0.0.1", 1)

    def read(self, n: int) -> bytes:
        return self.sock.recv(n)

    def write(self, data: bytes) -> None:
        self.sock.sendall(data)


class WsH2Handshaker(HandshakerBase):
    """wptserve's subclass, in its shape: the hooks it overrides, the helpers it calls."""

    def _transform_header(self, header):
        return header.lower()

    def _protocol_rfc(self):
        return "RFC 8441"

    def _validate_request(self):
        if self._request.method != "CONNECT":
            raise HandshakeException(f"Method is not CONNECT: {self._request.method!r}")
        validate_mandatory_header(self._request, ":protocol", "websocket")
        get_mandatory_header(self._request, "authority")

    def _set_accept(self):
        pass

    def _send_handshake(self):
        self._request.status = 200
        self._request.headers_out["upgrade"] = common.WEBSOCKET_UPGRADE_TYPE
        self._request.headers_out["connection"] = common.UPGRADE_CONNECTION_TYPE
        if self._request.ws_protocol is not None:
            self._request.headers_out["sec-websocket-protocol"] = self._request.ws_protocol
        if self._request.ws_extensions:
            self._request.headers_out["sec-websocket-extensions"] = common.format_extensions(
                self._request.ws_extensions
            )
        for name, value in self._request.extra_headers:
            self._request.headers_out[name] = value


def h2_headers(**extra) -> dict[str, str]:
    headers = {":protocol": "websocket", "authority": "web-platform.test", "sec-websocket-version": "13"}
    headers.update(extra)
    return headers


def test_http2_bootstrap_with_dispatcher_and_handshaker_base():
    dispatcher = dispatch.Dispatcher(str(WPT_HANDLERS), None, False)
    assert dispatcher.get_handler_suite("/nothing-here") is None
    assert dispatcher.get_handler_suite("/echo") is not None
    server_end, client_end = socket.socketpair()
    with server_end, client_end:
        request = H2Request(
            "/cookie",
            h2_headers(**{"sec-websocket-extensions": "permessage-deflate", "origin": "https://web-platform.test"}),
            SocketConnection(server_end),
        )
        WsH2Handshaker(request, dispatcher).do_handshake()
        assert request.status == 200
        assert request.headers_out["upgrade"] == "websocket"
        assert request.headers_out["sec-websocket-extensions"] == "permessage-deflate"
        assert request.headers_out["Cross-Origin-Embedder-Policy"] == "require-corp"
        assert request.ws_origin == "https://web-platform.test" and request.ws_version == 13

        request = H2Request("/echo", h2_headers(), SocketConnection(server_end))
        WsH2Handshaker(request, dispatcher).do_handshake()
        assert request.status == 200 and "sec-websocket-extensions" not in request.headers_out
        request._dispatcher = dispatcher
        thread = threading.Thread(target=dispatcher.transfer_data, args=(request,))
        thread.start()
        client = RawWebSocket(client_end)
        client.send_frame(1, b"over h2")
        assert client.read_frame() == (1, b"over h2")
        client.send_frame(8, (1000).to_bytes(2, "big"))
        assert client.read_frame() == (8, (1000).to_bytes(2, "big"))
        thread.join(10)
        assert not thread.is_alive()


@pytest.mark.parametrize(
    ("method", "headers", "status"),
    [
        ("GET", h2_headers(), 400),
        ("CONNECT", h2_headers(**{":protocol": "not-websocket"}), 400),
        ("CONNECT", h2_headers(**{"sec-websocket-version": "8"}), 426),
        ("CONNECT", {":protocol": "websocket", "sec-websocket-version": "13"}, 400),
    ],
)
def test_http2_bootstrap_refusals(method, headers, status):
    dispatcher = dispatch.Dispatcher(str(WPT_HANDLERS), None, False)
    request = H2Request("/echo", headers, SocketConnection(None))
    request.method = method
    with pytest.raises(HandshakeException) as refused:
        WsH2Handshaker(request, dispatcher).do_handshake()
    assert refused.value.status == status


def test_handler_exceptions_keep_their_pywebsocket_statuses():
    dispatcher = dispatch.Dispatcher(str(WPT_HANDLERS), None, False)
    request = H2Request("/protocol?mode=unrequested", h2_headers(), SocketConnection(None))
    with pytest.raises(HandshakeException) as refused:
        WsH2Handshaker(request, dispatcher).do_handshake()
    assert refused.value.status == 400
