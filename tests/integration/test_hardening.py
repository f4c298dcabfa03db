"""Bad input, slow and broken clients, faulty handlers: each gets its answer, and everyone else is served.

Every test runs against the Apache appliance and the standalone server, set up
with short timeouts (WS_TIMEOUT=3, WS_HEADER_TIMEOUT=3) and an origin allowlist,
and ends by checking that the server still echoes for a well-behaved client.
"""

from __future__ import annotations

import os
import socket
import ssl
import threading
import time

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from ..servers import TESTBED, start_server
from .rawhttp import build_request, send_raw

pytestmark = pytest.mark.integration

TIMEOUT = 3  # WS_TIMEOUT and WS_HEADER_TIMEOUT of these servers
ALLOWED = "http://allowed.test, https://Also.test:8443/"
ECHO = "/scanned/echo"  # the test handlers' root is tests/integration/handlers


@pytest.fixture(scope="module", params=["apache", "standalone"])
def server(request, tmp_path_factory):
    env = {
        "WS_HANDLER_SCAN": "/srv/handlers/scanned",
        "WS_MAX_MESSAGE_SIZE": "65536",
        "WS_TIMEOUT": str(TIMEOUT),
        "WS_HEADER_TIMEOUT": str(TIMEOUT),
        "WS_ALLOWED_ORIGINS": ALLOWED,
        "WS_LOG_LEVEL": "info",
    }
    started = start_server(request.param, TESTBED, tmp_path_factory.mktemp(f"hardening-{request.param}"), env)
    yield started
    started.stop()


@pytest.fixture(params=["ws", "wss"])
def scheme(request) -> str:
    return request.param


def assert_still_serving(server, scheme: str = "ws") -> None:
    with connect(server.url(scheme, ECHO), ssl=server.client_ssl(scheme), open_timeout=10) as ws:
        ws.send("still here")
        assert ws.recv(timeout=10) == "still here"


def raw_exchange(server, scheme: str, data: bytes, timeout: float = 10.0):
    """Send ``data`` and read the answer's head; status 0 if the server closed without an HTTP answer."""
    with server.open_socket(scheme, timeout=timeout) as sock:
        try:
            return send_raw(sock, data)
        except (ConnectionResetError, ssl.SSLError):
            return None


GOOD = build_request(ECHO).decode()
MALFORMED = {
    "missing key": (build_request(ECHO, Sec_WebSocket_Key=None), {400}),
    "invalid key": (build_request(ECHO, Sec_WebSocket_Key="not-base64-at-all!!"), {400}),
    "two keys": (GOOD.replace("\r\n\r\n", "\r\nSec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4PEA==\r\n\r\n").encode(), {400}),
    "wrong version": (build_request(ECHO, Sec_WebSocket_Version="8"), {426}),
    "missing version": (build_request(ECHO, Sec_WebSocket_Version=None), {426}),
    "POST": (build_request(ECHO, method="POST"), {400, 405}),
    "HTTP/1.0": (build_request(ECHO, version="HTTP/1.0"), {400}),
    "no Upgrade header": (build_request(ECHO, Upgrade=None), {426}),
    "no Connection: Upgrade": (build_request(ECHO, Connection="keep-alive"), {400}),
    "request line of 10,000 bytes": (build_request(ECHO + "?" + "a" * 10_000), {414}),
    "header of 10,000 bytes": (build_request(ECHO, X_Big="b" * 10_000), {400, 431}),
    "200 header fields": (
        GOOD.replace("\r\n\r\n", "".join(f"\r\nX-F{i}: v" for i in range(200)) + "\r\n\r\n").encode(),
        {400, 431},
    ),
    "CR inside a header value": (build_request(ECHO, X_Injected="a\rInjected: yes"), {400}),
    # RFC 7230 3.2.4: reject obs-fold with 400, or unfold it (Apache does).
    "folded header line": (GOOD.replace("\r\n\r\n", "\r\nX-A: one\r\n  two\r\n\r\n").encode(), {400, 101}),
    "NUL in a header value": (build_request(ECHO, X_Nul="a\x00b"), {400}),
    "subprotocol with a space": (build_request(ECHO, Sec_WebSocket_Protocol="chat room"), {400}),
    "quoted subprotocol": (build_request(ECHO, Sec_WebSocket_Protocol='"chat"'), {400}),
    "garbage": (bytes(range(256)) * 4 + b"\r\n\r\n", {400, None}),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_handshake_gets_its_status(server, scheme, case):
    request, expected = MALFORMED[case]
    response = raw_exchange(server, scheme, request)
    status = None if response is None or response.status == 0 else response.status
    assert status in expected, f"{case}: got {status}, want one of {expected}"
    if status == 426 and "version" in case:
        assert response.header("Sec-WebSocket-Version") == "13"


def test_bad_input_leaves_the_server_serving(server, scheme):
    for request, _ in MALFORMED.values():
        raw_exchange(server, scheme, request)
    assert_still_serving(server, scheme)


def test_plain_http_and_garbage_on_the_tls_port(server):
    for data in (b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n", bytes(range(256)) * 8):
        with socket.create_connection(("127.0.0.1", server.port("wss")), timeout=10) as sock:
            sock.sendall(data)
            deadline = time.monotonic() + 10
            received = b""
            while time.monotonic() < deadline:  # the server answers (or not) and closes
                try:
                    chunk = sock.recv(65536)
                except ConnectionResetError:
                    break
                if not chunk:
                    break
                received += chunk
            else:
                pytest.fail("the TLS port kept a garbage connection open")
            assert b"101 Switching Protocols" not in received
    assert_still_serving(server, "wss")


def test_slowloris_is_cut_off_and_others_are_served(server, scheme):
    sock = server.open_socket(scheme, timeout=30)
    started = time.monotonic()
    try:
        sock.sendall(b"GET /echo HTTP/1.1\r\n")
        closed = False
        while time.monotonic() - started < TIMEOUT + 15:
            assert_still_serving(server, scheme)
            try:
                sock.sendall(b"X")  # one byte of a header that never ends
                sock.settimeout(0.5)
                if sock.recv(4096) == b"":
                    closed = True
                    break
            except (TimeoutError, ssl.SSLWantReadError):
                continue
            except (ConnectionError, ssl.SSLError, OSError):
                closed = True
                break
        assert closed, "a client trickling its request head was never cut off"
        assert time.monotonic() - started < TIMEOUT + 15
    finally:
        sock.close()


def test_a_client_that_never_reads_is_dropped_and_blocks_no_one(server, scheme):
    sock = server.open_socket(scheme, timeout=10)
    try:
        assert send_raw(sock, build_request(ECHO)).status == 101
        frame = _masked_binary(60_000)
        sock.settimeout(0.5)
        sent = 0
        deadline = time.monotonic() + 30
        while sent < 64 * 1024 * 1024 and time.monotonic() < deadline:  # until our sends block too
            try:
                sock.sendall(frame)
                sent += len(frame)
            except (TimeoutError, ssl.SSLWantWriteError):
                break
        assert_still_serving(server, scheme)  # the stuck echo holds only its own connection
        time.sleep(TIMEOUT * 3)  # never reading: the server's write times out
        sock.settimeout(2)
        ended = False
        drain_deadline = time.monotonic() + 60
        while time.monotonic() < drain_deadline:
            try:
                if not sock.recv(1 << 20):
                    ended = True
                    break
            except TimeoutError:
                break  # the server still holds the connection open: it did not give up
            except (ConnectionError, ssl.SSLError, OSError):
                ended = True
                break
        assert ended, "the server kept writing to a client that does not read"
    finally:
        sock.close()
    assert_still_serving(server, scheme)


def _masked_binary(size: int) -> bytes:
    from mod_pywebsocket.core.frames import build_frame

    return build_frame(0x2, b"\x5a" * size, mask=True)


@pytest.mark.parametrize("where", ["extra", "transfer", "passive"])
def test_handler_exceptions_get_their_answer(server, where):
    url = server.url("ws", f"/scanned/fault?where={where}&how=raise")
    if where == "extra":
        with pytest.raises(InvalidStatus) as info:
            connect(url, open_timeout=10)
        assert info.value.response.status_code == 403
    elif where == "transfer":
        with connect(url, open_timeout=10) as ws:
            with pytest.raises(ConnectionClosed) as info:
                ws.recv(timeout=10)
        assert info.value.rcvd is not None and info.value.rcvd.code == 1011
    else:
        ws = connect(url, open_timeout=10, legacy=True)
        ws.send("hi")
        assert ws.recv(timeout=10) == "hi"
        ws.close(4000, "bye")  # the passive hook raises while answering this
        assert ws.close_code in (4000, 1011)
    deadline = time.monotonic() + 10
    while f"deliberate failure in {where}" not in server.logs() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert f"deliberate failure in {where}" in server.logs()
    assert_still_serving(server)


def test_handlers_that_never_return_hold_only_their_own_connection(server):
    # One stuck in the opening handshake, one stuck in transfer_data (ignoring the client).
    stuck = []
    with pytest.raises(TimeoutError):
        stuck.append(connect(server.url("ws", "/scanned/fault?where=extra&how=block"), open_timeout=2))
    ws = connect(server.url("ws", "/scanned/fault?where=transfer&how=block"), open_timeout=10, legacy=True)
    assert_still_serving(server)
    ws.close_timeout = 1
    ws.close()  # goes away without an answer; nothing breaks
    assert_still_serving(server)


@pytest.mark.parametrize(
    "path",
    [
        "/../handlers/scanned/echo",
        "/%2e%2e/handlers/scanned/echo",
        "/%2E%2E%2Fetc%2Fpasswd",
        "/scanned/echo%00",
        "/scanned/echo%00.py",
        "/..%5c..%5cetc%5cpasswd",
        "/sub%2f..%2f..%2fetc%2fpasswd",
        "/%ff%fe%fd",
        "/" + "a" * 4000,
        "/outside_scan",  # exists under the root but outside WS_HANDLER_SCAN
        "/scanned/echo_wsh.py",
    ],
)
def test_hostile_resource_names_never_reach_outside(server, path):
    response = raw_exchange(server, "ws", build_request(path))
    assert response is not None and response.status in (400, 403, 404), f"{path}: {response and response.status}"


@pytest.mark.parametrize(
    "path", ["/../../../../etc/passwd", "/%2e%2e/%2e%2e/%2e%2e/etc/passwd", "/..%2f..%2f..%2fetc%2fpasswd"]
)
def test_static_files_never_leave_the_document_root(server, path):
    request = f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
    with server.open_socket("http", timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert b"root:x:0" not in data
    assert data.startswith(b"HTTP/1.1 4")


def test_symlinks_and_double_slashes_map_inside_the_root_only(server):
    # "//echo" is the same resource as "/echo" to Apache; either way it is a handler under the root.
    response = raw_exchange(server, "ws", build_request("//scanned//echo"))
    assert response.status in (101, 400, 404)


def test_origin_allowlist(server):
    for origin, allowed in [
        ("http://allowed.test", True),
        ("HTTP://ALLOWED.TEST", True),
        ("https://also.test:8443", True),
        ("http://evil.test", False),
        ("null", False),
        (None, True),  # non-browser clients send no Origin
    ]:
        headers = {} if origin is None else {"Origin": origin}
        response = raw_exchange(server, "ws", build_request(ECHO, **headers))
        assert response.status == (101 if allowed else 403), origin


def test_one_thousand_concurrent_echo_connections_lose_nothing(server):
    import asyncio
    import os
    import resource

    from websockets.asyncio.client import connect as aconnect

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))
    clients, rounds = 1000, 5
    url = server.url("ws", ECHO)

    async def one(n: int, start: asyncio.Event) -> int:
        async with aconnect(url, open_timeout=60, close_timeout=10, compression=None, ping_interval=None) as ws:
            await start.wait()
            good = 0
            for r in range(rounds):
                payload = os.urandom(64) + f"{n}:{r}".encode()
                await ws.send(payload)
                if await asyncio.wait_for(ws.recv(), 60) == payload:
                    good += 1
            return good

    async def main() -> list:
        start = asyncio.Event()
        tasks = []
        for n in range(clients):
            tasks.append(asyncio.create_task(one(n, start)))
            if n % 50 == 49:
                await asyncio.sleep(0.05)  # a ramp, not a SYN flood
        await asyncio.sleep(0.5)
        start.set()
        return await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 240)

    results = asyncio.run(main())
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, f"{len(errors)} of {clients} connections failed, first: {errors[0]!r}"
    assert sum(results) == clients * rounds
    assert_still_serving(server)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # TLS 1.0/1.1, on purpose
def test_tls_below_1_2_and_weak_ciphers_are_refused(server):
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.check_hostname = False
    old.verify_mode = ssl.CERT_NONE
    old.set_ciphers("DEFAULT:@SECLEVEL=0")
    old.minimum_version = ssl.TLSVersion.TLSv1
    old.maximum_version = ssl.TLSVersion.TLSv1_1
    weak = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    weak.check_hostname = False
    weak.verify_mode = ssl.CERT_NONE
    weak.maximum_version = ssl.TLSVersion.TLSv1_2
    weak.set_ciphers("AES128-SHA:AES256-SHA:AES128-SHA256")
    for context in (old, weak):
        with socket.create_connection(("127.0.0.1", server.port("wss")), timeout=10) as raw:
            with pytest.raises((ssl.SSLError, ConnectionResetError)):
                context.wrap_socket(raw).do_handshake()
    modern = server.ssl_context()
    modern.maximum_version = ssl.TLSVersion.TLSv1_2
    with socket.create_connection(("127.0.0.1", server.port("wss")), timeout=10) as raw:
        with modern.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            assert tls.version() == "TLSv1.2"
            assert "GCM" in tls.cipher()[0] or "CHACHA20" in tls.cipher()[0]


def test_server_header_names_no_versions(server):
    for request in (build_request(ECHO), b"GET /nothing-here HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"):
        response = raw_exchange(server, "ws", request)
        banner = response.header("Server") or ""
        for leak in ("Apache/", "OpenSSL", "Python", "Debian", "mod_python"):
            assert leak not in banner, banner


def test_many_threads_hammering_bad_and_good_requests(server):
    """Bad handshakes and good echoes at once, from several threads: all good ones succeed."""
    failures: list[BaseException] = []

    def bad() -> None:
        for request, _ in list(MALFORMED.values())[:8]:
            try:
                raw_exchange(server, "ws", request)
            except OSError:
                pass

    def good() -> None:
        try:
            for _ in range(5):
                assert_still_serving(server)
        except BaseException as e:  # noqa: BLE001 - collected for the assertion
            failures.append(e)

    threads = [threading.Thread(target=f) for f in (bad, good) * 4]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not failures, failures[0]


@pytest.mark.parametrize("kind", ["apache", "standalone"])
def test_a_handler_symlink_leaving_the_root_is_refused(tmp_path, kind):
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "echo_wsh.py").write_text((TESTBED / "scanned" / "echo_wsh.py").read_text())
    (outside / "evil_wsh.py").write_text((TESTBED / "scanned" / "echo_wsh.py").read_text())
    os.symlink("../outside/evil_wsh.py", root / "evil_wsh.py")
    os.chmod(tmp_path, 0o755)
    started = start_server(kind, root, tmp_path, {"WS_LOG_LEVEL": "info"})
    try:
        assert raw_exchange(started, "ws", build_request("/evil")).status == 404
        assert raw_exchange(started, "ws", build_request("/echo")).status == 101
        assert "evil_wsh.py: skipped, its real path is outside the handler root" in started.logs()
    finally:
        started.stop()
