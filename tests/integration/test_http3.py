"""WebSockets over HTTP/3 (RFC 9220) on both servers, with a real QUIC client (aioquic).

The appliance runs its HTTP/3 listener beside Apache (on by default, published on
UDP); the standalone server gets ``--h3-port``. Both serve the same handlers as over
TCP, through the same flow: the handler sees ``request.protocol == "HTTP/3"``.
"""

from __future__ import annotations

import json
import os
import threading
import time
import zlib
from pathlib import Path

import pytest

from ..h3client import H3Connection
from ..servers import start_server

pytestmark = pytest.mark.integration

H3_HANDLERS = Path(__file__).parent / "h3_handlers"
KINDS = ["apache", "standalone"]


@pytest.fixture(scope="module", params=KINDS)
def server(request, tmp_path_factory):
    server = start_server(
        request.param, H3_HANDLERS, tmp_path_factory.mktemp(f"h3-{request.param}"), {"WS_LOG_LEVEL": "info"}, h3=True
    )
    try:
        _wait_for_h3(server)
        yield server
    finally:
        server.stop()


def _wait_for_h3(server, timeout: float = 20.0) -> None:
    """The appliance starts its HTTP/3 process beside Apache: wait until it serves (QUIC
    answers as soon as it is bound; the site, loaded next, until then gets 503)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with H3Connection("127.0.0.1", server.h3_port, timeout=1.0) as conn:
                if conn.get("/mod_pywebsocket/spki")[0][":status"] == "200":
                    return
        except (ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"no HTTP/3 within {timeout}s:\n{server.logs()}") from None
        time.sleep(0.2)


@pytest.fixture
def h3(server):
    conn = H3Connection("127.0.0.1", server.h3_port)
    yield conn
    conn.close()


def test_extended_connect_is_announced(h3):
    assert h3.connect_protocol_enabled


def test_echoes_and_client_close_with_code_and_reason(h3, server):
    ws = h3.open_websocket("/echo")
    assert ws.status == 200
    for message in ("hello over h3", "ünïcödé ✓", b"\x00\x01\xfe\xff", b"", "", os.urandom(65_000)):
        ws.send(message)
        assert ws.recv() == message
    ws.send_frame(0x9, b"are you there")
    pong = ws.recv_frame()
    assert (pong.opcode, pong.payload) == (0xA, b"are you there")
    assert ws.close(4001, "done here") == (4001, "done here")
    deadline = time.monotonic() + 5
    while not ws.ended and time.monotonic() < deadline:
        h3.poll()
    assert ws.ended and not ws.was_reset  # the server ends the stream with FIN after the close
    _wait_for_log(server, '"CONNECT /echo HTTP/3" 200')  # written once the handler has returned


def _wait_for_log(server, text: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in server.logs():
        assert time.monotonic() < deadline, f"no {text!r} in the log:\n{server.logs()[-2000:]}"
        time.sleep(0.05)


def test_server_close_with_code_and_reason(h3):
    ws = h3.open_websocket("/close")
    ws.send("4002 server says bye")
    frame = ws.recv_frame()
    assert frame.opcode == 0x8
    assert (int.from_bytes(frame.payload[:2], "big"), frame.payload[2:]) == (4002, b"server says bye")


def test_the_handler_sees_http3(h3):
    ws = h3.open_websocket(
        "/whoami?x=1", [("origin", "https://page.test"), ("sec-websocket-protocol", "chat, superchat")]
    )
    assert ws.status == 200
    assert ws.headers["sec-websocket-protocol"] == "superchat"
    assert ws.headers["x-seen-by"] == "whoami"
    seen = json.loads(ws.recv())
    assert seen == {
        "protocol": "HTTP/3",
        "method": "CONNECT",
        "resource": "/whoami?x=1",
        "origin": "https://page.test",
        "subprotocol": "superchat",
        "requested": ["chat", "superchat"],
        "version": 13,
        "host": f"127.0.0.1:{h3.port}",
        "https": True,
        "remote_is_tuple": True,
    }
    ws.close()


def test_several_websockets_and_pages_on_one_connection(h3):
    sockets = [h3.open_websocket("/echo") for _ in range(5)]
    for round_number in range(3):
        for n, ws in enumerate(sockets):
            ws.send(f"stream {n} round {round_number}")
        for n, ws in enumerate(sockets):
            assert ws.recv() == f"stream {n} round {round_number}"
        headers, body = h3.get("/client-conformance.html")
        assert headers[":status"] == "200" and b"<html" in body.lower()
    for ws in sockets:
        assert ws.close() == (1000, "")


def test_spki_hash_is_served(h3, server):
    headers, body = h3.get("/mod_pywebsocket/spki")
    assert headers[":status"] == "200"
    spki = body.decode().strip()
    assert len(spki) == 44 and spki.endswith("=")
    assert spki in server.logs()


def test_permessage_deflate_over_http3(h3):
    ws = h3.open_websocket("/echo", [("sec-websocket-extensions", "permessage-deflate")])
    assert ws.headers.get("sec-websocket-extensions") == "permessage-deflate"
    text = "compressible " * 1000
    ws.send(text)
    frame = ws.recv_frame()
    assert frame.opcode == 0x1 and ws.last_rsv1
    assert zlib.decompressobj(-15).decompress(frame.payload + b"\x00\x00\xff\xff").decode() == text
    ws.close()


def test_refusals_over_http3(h3):
    missing = h3.open_websocket("/no-such-handler")
    assert missing.status == 404
    assert b"no WebSocket handler" in missing.body()
    wrong_version = h3.open_websocket("/echo", [("sec-websocket-version", "8")])
    assert wrong_version.status in (400, 426)
    assert h3.open_websocket("/echo", protocol=None).status == 501  # a CONNECT that is not a WebSocket


def test_abort_resets_the_stream(h3):
    ws = h3.open_websocket("/abort")
    assert ws.status == 200
    with pytest.raises(ConnectionResetError):
        ws.recv_frame()
    assert ws.was_reset


@pytest.mark.parametrize("how", ["reset", "lost"])
def test_a_reset_or_lost_connection_reaches_the_handler(server, how):
    conn = H3Connection("127.0.0.1", server.h3_port)
    ws = conn.open_websocket("/outcome")
    ws.send("still here")
    time.sleep(0.2)
    if how == "reset":
        ws.reset()
        conn.poll()
    conn.close()
    with H3Connection("127.0.0.1", server.h3_port) as other:
        report = other.open_websocket("/outcome?report")
        assert report.recv() == "terminated: ConnectionTerminatedException"


@pytest.mark.parametrize("size", [16 << 20, 64 << 20])
def test_large_messages_both_ways(h3, size):
    payload = os.urandom(size)
    ws = h3.open_websocket("/echo")
    ws.send(payload)
    assert ws.recv() == payload
    ws.close()


@pytest.mark.parametrize("kind", KINDS)
def test_past_capacity_the_answer_is_503(kind, tmp_path):
    """One WebSocket slot (WS_THREADS=1): the second HTTP/3 WebSocket gets :status 503 with
    Retry-After, as over TCP, while pages are still served."""
    server = start_server(kind, H3_HANDLERS, tmp_path, {"WS_THREADS": "1", "WS_LOG_LEVEL": "info"}, h3=True)
    try:
        _wait_for_h3(server)
        with H3Connection("127.0.0.1", server.h3_port) as conn:
            held = conn.open_websocket("/echo")
            assert held.status == 200
            refused = conn.open_websocket("/echo")
            assert refused.status == 503
            assert refused.headers.get("retry-after") == "1"
            assert conn.get("/mod_pywebsocket/spki")[0][":status"] == "200"
            held.send("still served")
            assert held.recv() == "still served"
            assert held.close() == (1000, "")
    finally:
        server.stop()


@pytest.mark.parametrize("kind", KINDS)
def test_idle_timeout_as_on_tcp(kind, tmp_path):
    """WS_TIMEOUT=1: a silent client is pinged after a second, as over TCP; the ping's
    pong keeps it; silent through a second period, it is dropped (the stream reset)."""
    server = start_server(kind, H3_HANDLERS, tmp_path, {"WS_TIMEOUT": "1", "WS_LOG_LEVEL": "info"}, h3=True)
    try:
        _wait_for_h3(server)
        with H3Connection("127.0.0.1", server.h3_port) as conn:
            ws = conn.open_websocket("/echo")
            started = time.monotonic()
            frame = ws.recv_frame()  # recv_frame does not answer pings: the client stays silent
            assert frame.opcode == 0x9 and 0.5 < time.monotonic() - started < 5
            deadline = time.monotonic() + 10
            while not (ws.was_reset or ws.ended) and time.monotonic() < deadline:
                conn.poll()
            assert ws.was_reset or ws.ended, "a silent client was never dropped"
    finally:
        server.stop()


def test_the_appliance_restarts_a_dead_http3_listener_and_stops_it_with_apache(tmp_path):
    """The entrypoint supervises the HTTP/3 process: killed, it is logged and started again;
    docker stop closes its WebSockets with 1001 and the container exits 0."""
    server = start_server("apache", H3_HANDLERS, tmp_path, {"WS_LOG_LEVEL": "info"})
    try:
        _wait_for_h3(server)
        exit_code, _ = server.container.exec_run(["sh", "-c", "kill -KILL $(cat /run/mod_pywebsocket/h3.pid)"])
        assert exit_code == 0
        deadline = time.monotonic() + 15
        while "the HTTP/3 listener exited (status 137); starting it again" not in server.logs():
            assert time.monotonic() < deadline, server.logs()[-2000:]
            time.sleep(0.2)
        _wait_for_h3(server)
        conn = H3Connection("127.0.0.1", server.h3_port)
        ws = conn.open_websocket("/echo")
        ws.send("before the stop")
        assert ws.recv() == "before the stop"
        started = time.monotonic()
        stopping = threading.Thread(target=server.container.stop, kwargs={"timeout": 20})
        stopping.start()
        frame = ws.recv_frame()
        assert frame.opcode == 0x8 and int.from_bytes(frame.payload[:2], "big") == 1001
        ws.send_frame(0x8, frame.payload[:2])  # the client answers the close, as browsers do
        stopping.join(30)
        conn.close()
        server.container.reload()
        assert server.container.attrs["State"]["ExitCode"] == 0
        assert time.monotonic() - started < 15
        assert "HTTP/3 listener stopped (1 WebSocket(s) closed with 1001)" in server.logs()
    finally:
        server.stop()


def test_a_handler_that_does_not_read_holds_one_window(h3):
    """aioquic alone would give the client credit as its data arrives; here a WebSocket
    stream gets credit for what its handler has read plus RECEIVE_WINDOW (4 MiB): a client
    sending 24 MiB to a handler that sleeps has at most that much in the server."""
    ws = h3.open_websocket("/stall")
    ws.send(os.urandom(24 << 20))  # returns once the handler reads again, 2 s later
    unread = int(ws.recv().split()[1])
    assert 0 < unread <= (4 << 20) + (64 << 10), unread
    assert ws.recv() == str(24 << 20)
    ws.close()


def test_the_readiness_endpoint_over_http3(server):
    """/mod_pywebsocket/ready answers over HTTP/3 what it answers over TCP (the appliance's
    HTTP/3 listener reads the readiness watcher's file: 200 once every listener serves)."""
    deadline = time.monotonic() + 20
    while True:
        with H3Connection("127.0.0.1", server.h3_port) as conn:
            headers, body = conn.get("/mod_pywebsocket/ready")
        if headers[":status"] == "200" or time.monotonic() > deadline:
            break
        assert headers[":status"] == "503" and body.startswith(b"not ready: "), (headers, body)
        time.sleep(0.2)
    assert headers[":status"] == "200", body
    document = json.loads(body)
    assert document["ready"] is True
    assert any(listener["transport"] == "udp" for listener in document["listeners"])
