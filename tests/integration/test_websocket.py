"""Both servers end to end with real clients over ws and wss: the Apache appliance
(Apache + mod_python in Docker) and the standalone server run the same handlers
and must answer the same way."""

from __future__ import annotations

import asyncio
import os

import pytest
import requests
from websockets.asyncio.client import connect as aconnect
from websockets.exceptions import ConnectionClosed, ConnectionClosedError, InvalidStatus
from websockets.sync.client import connect

from mod_pywebsocket import __version__

from .rawhttp import build_request, new_key, send_raw

pytestmark = pytest.mark.integration


def ws_connect(app, scheme, path, **kwargs):
    kwargs.setdefault("compression", None)
    kwargs.setdefault("open_timeout", 10)
    kwargs.setdefault("close_timeout", 10)
    kwargs.setdefault("max_size", 1 << 24)
    return connect(app.url(scheme, path), ssl=app.client_ssl(scheme), **kwargs)


def test_echo_text_binary_and_large(examples, scheme):
    with ws_connect(examples, scheme, "/echo") as ws:
        for message in ("héllo wörld ✓", "", b"\x00\x01\xfe\xff", b""):
            ws.send(message)
            assert ws.recv(timeout=10) == message
        big = os.urandom(1 << 20)
        ws.send(big)
        assert ws.recv(timeout=20) == big
        text = "ü" * (1 << 19)  # 1 MiB of UTF-8
        ws.send(text)
        assert ws.recv(timeout=20) == text
        ws.send(["frag", "mented ", "text"])  # a fragmented message
        assert ws.recv(timeout=10) == "fragmented text"
        ws.ping(b"are you there").wait(10)


def test_subprotocol_choice(examples, scheme):
    with ws_connect(examples, scheme, "/echo", subprotocols=["chat.v2", "chat.v1"]) as ws:
        assert ws.subprotocol == "chat.v2"
    with ws_connect(examples, scheme, "/echo") as ws:
        assert ws.subprotocol is None


def test_client_close_code_and_reason_are_echoed(examples, scheme):
    with ws_connect(examples, scheme, "/echo") as ws:
        ws.close(4000, "client bye")
    assert (ws.protocol.close_rcvd.code, ws.protocol.close_rcvd.reason) == (4000, "client bye")


def test_server_close_code_and_reason(examples, scheme):
    with ws_connect(examples, scheme, "/close") as ws:
        ws.send("4001 server bye")
        with pytest.raises(ConnectionClosed) as info:
            ws.recv(timeout=10)
    assert (info.value.rcvd.code, info.value.rcvd.reason) == (4001, "server bye")


def test_handler_exception_closes_1011_and_server_lives_on(testbed, scheme):
    with ws_connect(testbed, scheme, "/scanned/raise") as ws:
        ws.send("boom")
        with pytest.raises(ConnectionClosedError) as info:
            ws.recv(timeout=10)
    assert info.value.rcvd.code == 1011
    with ws_connect(testbed, scheme, "/scanned/echo") as ws:
        ws.send("still here")
        assert ws.recv(timeout=10) == "still here"
    assert "raise_wsh: deliberate failure" in testbed.logs()


@pytest.mark.parametrize("path", ["/nope", "/echo/extra", "/ech", "/Echo", "/echo%00", "//echo"])
def test_unknown_resource_is_404(examples, scheme, path):
    with examples.open_socket(scheme) as sock:
        response = send_raw(sock, build_request(path, Sec_WebSocket_Key=new_key()))
    assert response.status == 404


def test_unknown_resource_with_a_client_library(examples, scheme):
    with pytest.raises(InvalidStatus) as info:
        ws_connect(examples, scheme, "/nope")
    assert info.value.response.status_code == 404


@pytest.mark.parametrize("path", ["/../handlers/echo", "/%2e%2e/echo"])
def test_path_above_the_root_is_refused(examples, scheme, path):
    with examples.open_socket(scheme) as sock:
        response = send_raw(sock, build_request(path))
    assert response.status == 400


@pytest.mark.parametrize("version", ["8", "12", "13, 8", None])
def test_wrong_version_is_426_with_supported_version(examples, scheme, version):
    with examples.open_socket(scheme) as sock:
        response = send_raw(sock, build_request("/echo", Sec_WebSocket_Version=version))
    assert response.status == 426
    assert response.header("Sec-WebSocket-Version") == "13"


@pytest.mark.parametrize(
    "changes",
    [
        {"Sec_WebSocket_Key": "short"},
        {"Sec_WebSocket_Key": "dGhlIHNhbXBsZSBub25jZQ"},
        {"Sec_WebSocket_Key": "dGhlIHNhbXBsZSBub25jZQ==, dGhlIHNhbXBsZSBub25jZQ=="},
        {"Sec_WebSocket_Key": None},
        {"Connection": "keep-alive"},
        {"Sec_WebSocket_Protocol": "bad protocol"},
        {"Sec_WebSocket_Extensions": "permessage-deflate; ="},
    ],
)
def test_malformed_handshake_is_400(examples, scheme, changes):
    with examples.open_socket(scheme) as sock:
        response = send_raw(sock, build_request("/echo", **changes))
    assert response.status == 400


@pytest.mark.parametrize("header", [b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", b"Sec-WebSocket-Version: 13"])
def test_repeated_handshake_header_is_400_or_426(examples, scheme, header):
    """Repeated lines merge into one comma-separated value, which is not a valid key or version."""
    request = build_request("/echo").replace(b"\r\n\r\n", b"\r\n" + header + b"\r\n\r\n")
    with examples.open_socket(scheme) as sock:
        assert send_raw(sock, request).status == (400 if b"Key" in header else 426)


def test_post_and_http10_are_refused(examples, scheme):
    for request in (build_request("/echo", method="POST"), build_request("/echo", version="HTTP/1.0")):
        with examples.open_socket(scheme) as sock:
            assert send_raw(sock, request).status in (400, 405)


def test_handshake_response(examples, scheme):
    with examples.open_socket(scheme) as sock:
        response = send_raw(sock, build_request("/echo"))
    assert response.status == 101
    assert response.header("Sec-WebSocket-Accept") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    assert response.header("Upgrade").lower() == "websocket"
    assert response.header("Sec-WebSocket-Extensions") is None
    assert response.header("Server") == f"mod_pywebsocket/{__version__}"


def test_handler_refusal_is_403_and_abort_drops(testbed, scheme):
    with testbed.open_socket(scheme) as sock:
        assert send_raw(sock, build_request("/scanned/reject")).status == 403
    with testbed.open_socket(scheme) as sock:
        response = send_raw(sock, build_request("/scanned/abort"))
    assert response.status == 0 and response.raw == b""


def test_handler_scan_limits_what_loads(testbed, scheme):
    with pytest.raises(InvalidStatus) as info:
        ws_connect(testbed, scheme, "/outside_scan")
    assert info.value.response.status_code == 404
    with pytest.raises(InvalidStatus) as info:
        ws_connect(testbed, scheme, "/scanned/no_transfer")
    assert info.value.response.status_code == 404
    with ws_connect(testbed, scheme, "/scanned/sub/deep?x=1") as ws:
        assert ws.recv(timeout=10) == "/scanned/sub/deep?x=1"
    logs = testbed.logs()
    assert "no_transfer_wsh.py: no web_socket_transfer_data" in logs
    assert "syntax_error_wsh.py: failed to load: SyntaxError" in logs
    assert "outside_scan_wsh.py" not in logs


def test_handler_written_for_pywebsocket3_runs_unmodified(testbed, scheme):
    """`from pywebsocket3 import msgutil` in a handler gets this package's modules."""
    with ws_connect(testbed, scheme, "/scanned/pw3_style") as ws:
        ws.send("hi")
        assert ws.recv(timeout=10) == "1000:hi"
        ws.send("accept")
        assert len(ws.recv(timeout=10)) == 28  # a base64 SHA-1


def test_third_party_handler_runs_unmodified(testbed, scheme):
    with ws_connect(testbed, scheme, "/scanned/legacy", subprotocols=["a", "b"], origin="http://example.test") as ws:
        assert ws.response.headers["X-Legacy"] == "yes"
        assert ws.recv(timeout=10) == "origin=http://example.test protocol=b version=13"
        ws.send("text")
        assert ws.recv(timeout=10) == "text"
        ws.send(b"bin")
        assert ws.recv(timeout=10) == b"bin"
        ws.send("Goodbye")
        with pytest.raises(ConnectionClosed) as info:
            ws.recv(timeout=10)
    assert (info.value.rcvd.code, info.value.rcvd.reason) == (1001, "legacy bye")
    with ws_connect(testbed, scheme, "/scanned/legacy", subprotocols=["a"]) as ws:
        ws.recv(timeout=10)
        ws.close(3000)
    assert (ws.protocol.close_rcvd.code, ws.protocol.close_rcvd.reason) == (1000, "legacy passive")


def test_origin_check(examples, scheme):
    origin = "https://127.0.0.1:8443" if scheme == "wss" else "http://127.0.0.1:8080"
    with ws_connect(examples, scheme, "/origin_check", origin=origin) as ws:
        assert ws.recv(timeout=10) == f"hello {origin}"
    with pytest.raises(InvalidStatus) as info:
        ws_connect(examples, scheme, "/origin_check", origin="http://evil.example")
    assert info.value.response.status_code == 403


def test_chat_broadcasts_between_clients(examples, scheme):
    async def main() -> None:
        url = examples.url(scheme, "/chat")
        ssl_context = examples.client_ssl(scheme)
        async with aconnect(url, ssl=ssl_context) as alice, aconnect(url, ssl=ssl_context) as bob:
            # Bob's handler joins the room a moment after his handshake: retry until it has.
            for attempt in range(50):
                await alice.send(f"hi from alice {attempt}")
                assert await asyncio.wait_for(alice.recv(), 10) == f"hi from alice {attempt}"
                try:
                    heard = await asyncio.wait_for(bob.recv(), 0.2)
                    break
                except TimeoutError:
                    continue
            else:
                pytest.fail("bob never heard alice")
            assert heard.startswith("hi from alice")
            await bob.send("hi from bob")
            assert await asyncio.wait_for(alice.recv(), 10) == "hi from bob"

    asyncio.run(main())


@pytest.mark.parametrize("scheme_http", ["http", "https"])
def test_static_page_and_plain_http(examples, scheme_http):
    verify = examples.cafile if scheme_http == "https" else True
    response = requests.get(examples.url(scheme_http, "/console.html"), verify=verify, timeout=10)
    assert response.status_code == 200
    assert "mod_pywebsocket console" in response.text
    assert response.headers["Server"] == ("Apache" if examples.kind == "apache" else f"mod_pywebsocket/{__version__}")
    # A plain GET on a handler resource is not a WebSocket request: 426, and how to upgrade.
    plain = requests.get(examples.url(scheme_http, "/echo"), verify=verify, timeout=10)
    assert plain.status_code == 426
    assert plain.headers["Upgrade"] == "websocket"
    # Handler sources are not served.
    assert requests.get(examples.url(scheme_http, "/echo_wsh.py"), verify=verify, timeout=10).status_code == 403


def test_100_concurrent_connections(examples, scheme):
    """100 connections open at once, each echoing 10 messages, none lost or corrupted.

    Uses the asyncio client: websockets' threaded client shares one TLS socket
    between two threads and stalls now and then under load (a client-side fault).
    """
    clients, rounds = 100, 10

    async def client(n: int, all_open: asyncio.Barrier) -> list[str]:
        url = examples.url(scheme, "/echo")
        async with aconnect(url, ssl=examples.client_ssl(scheme), compression=None, open_timeout=30) as ws:
            await all_open.wait()
            errors = []
            for i in range(rounds):
                message = f"client {n} message {i}"
                await ws.send(message)
                reply = await asyncio.wait_for(ws.recv(), 30)
                if reply != message:
                    errors.append(f"{n}: sent {message!r}, got {reply!r}")
            return errors

    async def main() -> list:
        all_open = asyncio.Barrier(clients)
        return await asyncio.wait_for(
            asyncio.gather(*(client(n, all_open) for n in range(clients)), return_exceptions=True), 120
        )

    results = asyncio.run(main())
    failures = [r for r in results if isinstance(r, BaseException) or r]
    assert failures == []
