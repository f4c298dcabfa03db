"""The Apache adapter's two I/O paths: the native ``_apacheio`` module and mod_python's calls.

The image builds ``_apacheio``; ``MOD_PYWEBSOCKET_NO_SPEEDUPS=1`` makes the
adapter fall back to ``conn.read``/``req.write``. On plain TCP the native path
reads and writes the socket itself once Apache's filters hold nothing
(``MOD_PYWEBSOCKET_NO_DIRECT_IO=1`` keeps it in the filters). All must behave the
same, and the native path must not grow a connection's memory per message.
"""

from __future__ import annotations

import os

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from mod_pywebsocket.core.frames import build_frame

from ..servers import EXAMPLES, start_appliance
from .rawhttp import RawWebSocket, build_request, send_raw

pytestmark = pytest.mark.integration

PATHS = {
    "native": ({}, "connection I/O: native (_apacheio)"),
    "filters": ({"MOD_PYWEBSOCKET_NO_DIRECT_IO": "1"}, "connection I/O: native (_apacheio)"),
    "mod_python": ({"MOD_PYWEBSOCKET_NO_SPEEDUPS": "1"}, "connection I/O: mod_python's conn.read/req.write"),
}


@pytest.fixture(scope="module", params=list(PATHS))
def appliance(request, tmp_path_factory):
    env, _ = PATHS[request.param]
    app = start_appliance(EXAMPLES, tmp_path_factory.mktemp(request.param), {"WS_LOG_LEVEL": "info", **env})
    app.io_path = request.param
    yield app
    app.stop()


@pytest.mark.parametrize("scheme", ["ws", "wss"])
def test_echo_ping_and_close_on_both_io_paths(appliance, scheme):
    with connect(
        appliance.url(scheme, "/echo"), ssl=appliance.client_ssl(scheme), compression=None, max_size=None
    ) as ws:
        for message in ("hello", b"\x00\xff" * 10, os.urandom(3 << 20), "é" * 100_000):
            ws.send(message)
            assert ws.recv(timeout=20) == message
        ws.ping(b"p").wait(10)
    with connect(appliance.url(scheme, "/close"), ssl=appliance.client_ssl(scheme), compression=None) as ws:
        ws.send("4001 bye")
        with pytest.raises(ConnectionClosed) as info:
            ws.recv(timeout=10)
        assert info.value.rcvd is not None and info.value.rcvd.code == 4001
    _, expected_log = PATHS[appliance.io_path]
    assert expected_log in appliance.logs()


@pytest.mark.parametrize("scheme", ["ws", "wss"])
def test_frames_sent_with_the_handshake_come_back_in_order(appliance, scheme):
    """The handshake and 200 frames in one write: Apache's filters read part of them with
    the request head, the rest comes from the socket (where the native path reads it
    itself): every echo, in order, then the close."""
    texts = [f"{i}:" + "x" * (i * 37 % 3000) for i in range(200)]
    frames = b"".join(build_frame(0x1, t.encode(), mask=True) for t in texts)
    with appliance.open_socket(scheme, timeout=20) as sock:
        ws = RawWebSocket(sock)
        response = send_raw(sock, build_request("/echo") + frames + build_frame(0x8, b"\x03\xe8", mask=True))
        assert response.status == 101, response.raw[:300]
        ws.parser.feed(response.raw.split(b"\r\n\r\n", 1)[1])
        echoed = [ws.read_frame() for _ in texts]
        assert [p.decode() for _, p in echoed] == texts
        assert ws.read_frame() == (0x8, b"\x03\xe8")


def test_native_io_keeps_a_long_connection_flat(appliance):
    """mod_python allocates per call in the connection's pool; the native brigades (TLS, HTTP/2,
    and plain TCP with direct I/O off) must not."""
    if appliance.io_path == "mod_python":
        pytest.skip("the fallback is known to grow (about 63 bytes per message); the benchmark's (h) shows it")
    if appliance.io_path == "native":
        pytest.skip("plain TCP: direct recv()/send() take nothing from Apache's pools; 'filters' runs the brigades")

    with connect(appliance.url("ws", "/echo"), compression=None) as ws:
        for _ in range(5_000):
            ws.send("0123456789abcdef")
            ws.recv(timeout=10)
        before = appliance.memory()
        for _ in range(60_000):
            ws.send("0123456789abcdef")
            ws.recv(timeout=10)
        grown = appliance.memory() - before
    # mod_python's calls would add about 60,000 x 63 bytes = 3.6 MB here.
    assert grown < 1_500_000, f"memory grew by {grown:,} bytes over 60,000 echoes"


def test_websockets_over_http2_on_both_io_paths(appliance):
    from ..h2client import H2Connection

    h2 = H2Connection("127.0.0.1", appliance.https_port, appliance.ssl_context())
    try:
        ws = h2.open_websocket("/echo")
        assert ws.status == 200
        for message in ("over h2", os.urandom(100_000)):
            ws.send(message)
            assert ws.recv() == message
        assert ws.close(4003, "bye") == (4003, "bye")
    finally:
        h2.close()
