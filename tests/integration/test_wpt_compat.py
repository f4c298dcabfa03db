"""web-platform-tests compatibility: handlers written as WPT's are (tests/integration/wpt_handlers)
run unmodified behind Apache and the standalone server, driven by the websockets client
and by raw sockets where the exact bytes matter."""

from __future__ import annotations

import json
import threading
import time
import uuid

import pytest
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.sync.client import connect

from mod_pywebsocket.handshake import hybi

from ..servers import ROOT, start_server
from .rawhttp import RawWebSocket

pytestmark = pytest.mark.integration

WPT_HANDLERS = ROOT / "tests" / "integration" / "wpt_handlers"
TEXT, BINARY, CLOSE, PING = 1, 2, 8, 9


@pytest.fixture(scope="module", params=["apache", "standalone"])
def wpt(request, tmp_path_factory):
    server = start_server(request.param, WPT_HANDLERS, tmp_path_factory.mktemp(f"wpt-{request.param}"))
    yield server
    server.stop()


def ws(server, scheme, path, **kwargs):
    kwargs.setdefault("open_timeout", 10)
    kwargs.setdefault("close_timeout", 10)
    return connect(server.url(scheme, path), ssl=server.client_ssl(scheme), **kwargs)


def raw(server, scheme) -> RawWebSocket:
    return RawWebSocket(server.open_socket(scheme))


def close_body(code: int, reason: str = "") -> bytes:
    return code.to_bytes(2, "big") + reason.encode()


def test_request_fields_and_both_import_names(wpt, scheme):
    headers = {"Cookie": "wpt=1", "Referer": "http://web-platform.test/x"}
    with ws(wpt, scheme, "/info?a=b&c", origin="http://web-platform.test", additional_headers=headers) as conn:
        info = json.loads(conn.recv(timeout=10))
    assert info["same_modules"] == dict.fromkeys(info["same_modules"], True) and len(info["same_modules"]) == 9
    assert info["same_package"]
    assert info["uri"] == info["unparsed_uri"] == info["ws_resource"] == "/info?a=b&c"
    assert (info["method"], info["protocol"], info["ws_version"]) == ("GET", "HTTP/1.1", 13)
    assert info["is_https"] == (scheme == "wss")
    assert info["ws_origin"] == "http://web-platform.test"
    assert info["ws_cookie"] == "wpt=1" and info["referer"] == "http://web-platform.test/x"
    assert info["key_any_case"]
    assert info["ws_requested_extensions"] == ["permessage-deflate"]
    assert info["no_status"] == 1005 and isinstance(info["remote_addr_host"], str)


def test_echo_and_close_code_echo(wpt, scheme):
    with ws(wpt, scheme, "/echo") as conn:
        conn.send("text")
        assert conn.recv(timeout=10) == "text"
        conn.send(b"\x00\xff")
        assert conn.recv(timeout=10) == b"\x00\xff"
        conn.close(3001, "bye from the client")
    assert (conn.protocol.close_rcvd.code, conn.protocol.close_rcvd.reason) == (3001, "bye from the client")
    with ws(wpt, scheme, "/echo") as conn:
        conn.send("Goodbye")
        assert conn.recv(timeout=10) == "Goodbye"
        with pytest.raises(ConnectionClosed):
            conn.recv(timeout=10)
    assert conn.protocol.close_rcvd.code == 1000


def test_empty_close_gets_an_empty_close(wpt, scheme):
    for path in ("/echo", "/delayed_passive_close"):
        client = raw(wpt, scheme)
        assert client.handshake(path).status == 101
        client.send_frame(CLOSE)
        assert client.read_frame() == (CLOSE, b"")
        assert client.read_until_eof() == b""


def test_delayed_passive_close_echoes_code_and_reason(wpt, scheme):
    client = raw(wpt, scheme)
    assert client.handshake("/delayed_passive_close").status == 101
    client.send_frame(CLOSE, close_body(3210, "later"))
    assert client.read_frame() == (CLOSE, close_body(3210, "later"))


def test_passive_close_abort_drops_tcp_without_a_close_frame(wpt, scheme):
    client = raw(wpt, scheme)
    assert client.handshake("/passive_close_abort").status == 101
    client.send_frame(CLOSE, close_body(1000))
    assert client.read_until_eof() == b""
    deadline = time.monotonic() + 5  # the container's log reaches us a moment after the TCP end
    while "abort" not in wpt.logs():
        assert time.monotonic() < deadline, wpt.logs()[-2000:]
        time.sleep(0.05)


def test_abort_in_transfer_data_writes_nothing_more(wpt, scheme):
    client = raw(wpt, scheme)
    assert client.handshake("/abort_transfer").status == 101
    assert client.read_frame() == (TEXT, b"about to abort")
    client.send_frame(TEXT, b"go")
    assert client.read_until_eof() == b""


REMOTE_CLOSES = [("?code=3000&reason=bye", close_body(3000, "bye")), ("?code=1000", close_body(1000)), ("", b"")]


@pytest.mark.parametrize(("query", "expected"), REMOTE_CLOSES)
def test_remote_close_from_the_query(wpt, scheme, query, expected):
    client = raw(wpt, scheme)
    assert client.handshake("/remote_close" + query).status == 101
    assert client.read_frame() == (CLOSE, expected)
    client.send_frame(CLOSE, expected)
    assert client.read_until_eof() == b""


def test_garbage_before_the_101(wpt, scheme):
    client = raw(wpt, scheme)
    response = client.handshake("/invalid")
    assert response.raw.startswith(b"FOO BAR BAZ\r\n\r\n")
    with pytest.raises(InvalidHandshake):
        with ws(wpt, scheme, "/invalid"):
            pass


def test_handshake_written_by_the_handler(wpt, scheme):
    client = raw(wpt, scheme)
    key = "dGhlIHNhbXBsZSBub25jZQ=="
    response = client.handshake("/simple_handshake", Sec_WebSocket_Key=key)
    assert response.status == 101
    assert response.header("Sec-WebSocket-Accept") == hybi.compute_accept(key).decode()
    assert response.header("Set-Cookie") == "ws_test=test"
    assert client.read_frame() == (CLOSE, close_body(1000))
    client.send_frame(CLOSE, close_body(1000))
    assert client.read_until_eof() == b""


def test_raw_str_response_then_abort(wpt, scheme):
    client = raw(wpt, scheme)
    response = client.handshake("/raw_str_response")
    assert response.status == 401 and response.header("WWW-Authenticate") == 'Basic realm="x"'
    assert client.read_until_eof() == b""


def test_basic_auth_by_the_handler(wpt, scheme):
    client = raw(wpt, scheme)
    response = client.handshake("/basic_auth")
    assert response.status == 401 and response.header("WWW-Authenticate") == 'Basic realm="camelot"'
    assert client.read_until_eof() == b""
    with ws(wpt, scheme, "/basic_auth", additional_headers={"Authorization": "Basic Zm9vOmJhcg=="}) as conn:
        assert conn.recv(timeout=10) == "authenticated"


def test_raw_frames_after_the_handshake(wpt, scheme):
    with ws(wpt, scheme, "/echo_raw") as conn:
        conn.send("hello")
        assert conn.recv(timeout=10) == "raw:hello"
        assert conn.recv(timeout=10) == b"\x00\x01\x02"
        conn.send("back")
        assert conn.recv(timeout=10) == "read raw:back"


def test_extra_headers_are_written_verbatim(wpt, scheme):
    client = raw(wpt, scheme)
    response = client.handshake("/cookie", Cookie="session=abc")
    assert response.status == 101
    head = response.raw.split(b"\r\n\r\n", 1)[0] + b"\r\n"
    assert b"\r\nSet-Cookie: ws_test=cookie; Path=/\r\n" in head
    assert b"\r\nSet-Cookie: ws_http_only=1; HttpOnly\r\nX-Injected: by-a-test-handler\r\n" in head
    assert response.header("Cross-Origin-Embedder-Policy") == "require-corp"
    assert response.header("X-Injected") == "by-a-test-handler"
    assert client.read_frame() == (TEXT, b"session=abc")


def test_subprotocol_handling(wpt, scheme):
    with ws(wpt, scheme, "/protocol?mode=first", subprotocols=["b", "a"]) as conn:
        assert conn.subprotocol == "b" and conn.recv(timeout=10) == "'b'"
    with ws(wpt, scheme, "/protocol?mode=header", subprotocols=["chat"]) as conn:
        assert conn.subprotocol == "chat"
    # The raw header of two protocols is not one token: refused as before.
    assert raw(wpt, scheme).handshake("/protocol?mode=header", Sec_WebSocket_Protocol="a, b").status == 400
    response = raw(wpt, scheme).handshake("/protocol?mode=none", Sec_WebSocket_Protocol="a")
    assert response.status == 101 and response.header("Sec-WebSocket-Protocol") is None
    assert raw(wpt, scheme).handshake("/protocol?mode=unrequested").status == 400


def test_empty_messages(wpt, scheme):
    with ws(wpt, scheme, "/empty_message") as conn:
        assert conn.recv(timeout=10) == ""
        assert conn.recv(timeout=10) == b""
        conn.send("")
        assert conn.recv(timeout=10) == "text:0"
        conn.send(b"")
        assert conn.recv(timeout=10) == "binary:0"


def test_ping_with_a_str_body_and_an_empty_close(wpt, scheme):
    client = raw(wpt, scheme)
    assert client.handshake("/ping").status == 101
    assert client.read_frame() == (PING, b"ping")
    assert client.read_frame() == (TEXT, b"pinged")
    client.send_frame(10, b"ping")
    client.send_frame(TEXT, b"done")
    assert client.read_frame() == (CLOSE, b"")
    client.send_frame(CLOSE)
    assert client.read_until_eof() == b""


def test_a_slow_handshake_does_not_hold_up_others(wpt):
    done = threading.Event()

    def sleeper():
        with ws(wpt, "ws", "/sleep?seconds=4", open_timeout=20) as conn:
            assert conn.recv(timeout=10) == "awake"
        done.set()

    thread = threading.Thread(target=sleeper)
    thread.start()
    try:
        for _ in range(5):
            with ws(wpt, "ws", "/echo") as conn:
                conn.send("meanwhile")
                assert conn.recv(timeout=10) == "meanwhile"
        assert not done.is_set()
    finally:
        thread.join(30)
    assert done.is_set()


def test_message_channel_between_connections(wpt, scheme):
    path = f"/msg_channel?id={uuid.uuid4().hex}"
    with ws(wpt, scheme, path) as a, ws(wpt, scheme, path) as b:
        assert a.recv(timeout=10) == "joined 1"
        assert b.recv(timeout=10) == "joined 2"
        with ws(wpt, scheme, path) as c:
            assert c.recv(timeout=10) == "joined 3"
            a.send("from a")
            assert b.recv(timeout=10) == c.recv(timeout=10) == "from a"
            for i in range(50):  # b's handler sends while its reader thread receives
                c.send(f"burst {i}")
                b.send(b"binary %d" % i)
            assert [b.recv(timeout=10) for _ in range(50)] == [f"burst {i}" for i in range(50)]
            from_b = [c.recv(timeout=10) for _ in range(50)]
            assert sorted(m for m in from_b if isinstance(m, bytes)) == sorted(b"binary %d" % i for i in range(50))
        from_others = [a.recv(timeout=10) for _ in range(100)]
        assert sorted(m for m in from_others if isinstance(m, str)) == sorted(f"burst {i}" for i in range(50))
        b.send("after c left")
        assert a.recv(timeout=10) == "after c left"
