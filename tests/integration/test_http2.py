"""WebSockets over HTTP/2 (RFC 8441) through Apache's mod_http2, with a real HTTP/2 client.

The appliance offers h2 by ALPN on its TLS port and announces
SETTINGS_ENABLE_CONNECT_PROTOCOL; an extended CONNECT reaches the same handler
as an HTTP/1.1 upgrade. (Chromium over HTTP/2 is in tests/browser.)
"""

from __future__ import annotations

import os
import zlib

import pytest

from ..h2client import H2Connection
from ..servers import EXAMPLES, start_appliance

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def appliance(tmp_path_factory):
    app = start_appliance(EXAMPLES, tmp_path_factory.mktemp("http2"), {"WS_LOG_LEVEL": "info"})
    yield app
    app.stop()


@pytest.fixture
def h2(appliance):
    conn = H2Connection("127.0.0.1", appliance.https_port, appliance.ssl_context())
    yield conn
    conn.close()


def test_extended_connect_is_announced(h2):
    assert h2.connect_protocol_enabled


def test_echo_ping_and_close_code_and_reason(h2, appliance):
    ws = h2.open_websocket("/echo")
    assert ws.status == 200
    ws.send("hello over h2")
    assert ws.recv() == "hello over h2"
    payload = os.urandom(300_000)
    ws.send(payload)
    assert ws.recv() == payload
    ws.send_frame(0x9, b"are you there")
    pong = ws.recv_frame()
    assert (pong.opcode, pong.payload) == (0xA, b"are you there")
    assert ws.close(4001, "done here") == (4001, "done here")  # /echo answers with the client's close

    server_side = h2.open_websocket("/close")
    server_side.send("4002 server says bye")
    frame = server_side.recv_frame()
    assert frame.opcode == 0x8
    assert (int.from_bytes(frame.payload[:2], "big"), frame.payload[2:]) == (4002, b"server says bye")
    assert '"GET /echo HTTP/2.0" 101' in appliance.logs()


def test_several_websockets_and_a_page_on_one_connection(h2):
    sockets = [h2.open_websocket("/echo") for _ in range(5)]
    for round_number in range(3):
        for n, ws in enumerate(sockets):
            ws.send(f"stream {n} round {round_number}")
        for n, ws in enumerate(sockets):
            assert ws.recv() == f"stream {n} round {round_number}"
        headers, body = h2.get("/console.html")
        assert headers[":status"] == "200" and b"mod_pywebsocket console" in body
    for ws in sockets:
        assert ws.close() == (1000, "")


def test_permessage_deflate_over_http2(h2):
    ws = h2.open_websocket("/echo", [("sec-websocket-extensions", "permessage-deflate")])
    assert ws.response.get("sec-websocket-extensions") == "permessage-deflate"
    text = "compressible " * 1000
    ws.send(text)  # a client may send uncompressed messages; the server compresses its own
    frame = ws.recv_frame()
    assert frame.rsv1 == 1
    assert zlib.decompressobj(-15).decompress(frame.payload + b"\x00\x00\xff\xff").decode() == text


def test_refusals_over_http2(h2):
    assert h2.open_websocket("/no-such-handler").status == 404
    assert h2.open_websocket("/origin_check", [("origin", "http://evil.test")]).status == 403


def test_http2_can_be_turned_off(tmp_path):
    app = start_appliance(EXAMPLES, tmp_path, {"WS_HTTP2": "off"})
    try:
        with pytest.raises(ConnectionError, match="ALPN"):
            H2Connection("127.0.0.1", app.https_port, app.ssl_context())
    finally:
        app.stop()
