"""The real consumer: wptserve (PyPI) runs its own HTTP/2 server on this package, as WPT does.

WPT's ``?wpt_flags=h2`` tests never reach our servers: wptserve accepts the extended
CONNECT itself, runs ``handshake.base.HandshakerBase`` (its ``WsH2Handshaker``),
``dispatch.Dispatcher(root, None, False)``, ``get_handler_suite`` and ``transfer_data``
on a request whose ``connection.read(n)`` is a pipe read that blocks for exactly n
bytes. A venv of its own holds wptserve and this package (installed as a user
would, serving the ``pywebsocket3`` import name; no real pywebsocket3), and an
HTTP/2 client asserts what WPT's tests assert.

``MPWS_WPTSERVE_REFERENCE=1`` also runs every test against the real pywebsocket3
(PyPI) in a second venv, to show that both behave the same.
"""

from __future__ import annotations

import os
import re
import ssl
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest

from mod_pywebsocket import common

from ..h2client import H2Connection
from ..servers import PYWEBSOCKET3, ROOT, make_certificate

pytestmark = pytest.mark.integration

WPT_HANDLERS = ROOT / "tests" / "integration" / "wpt_handlers"
SERVER_SCRIPT = Path(__file__).with_name("wptserve_h2_server.py")
# wptserve and its HTTP/2 dependencies, pinned; wptserve's own dependency on pywebsocket3
# is what this package replaces, so it is installed with --no-deps.
WPTSERVE = ["wptserve==4.0.3", "h2==4.4.1", "hpack==4.2.0", "hyperframe==6.1.0"]
REFERENCE = PYWEBSOCKET3  # the real pywebsocket3 and its one dependency, pinned once
KINDS = ["ours"] + (["pywebsocket3"] if os.environ.get("MPWS_WPTSERVE_REFERENCE") == "1" else [])
TIMEOUT = 10.0
# WPT's Send-65K-data tests send 65,000 bytes. wptserve never acknowledges received
# DATA, so a client can send at most the initial 65,535-byte window on one HTTP/2
# connection (with pywebsocket3 as with this package): each test opens its own.
WPT_65K = 65_000
CLOSE = common.OPCODE_CLOSE


def close_body(code: int, reason: str = "") -> bytes:
    return code.to_bytes(2, "big") + reason.encode("utf-8")


@pytest.fixture(scope="module", params=KINDS)
def wptserve_python(request, tmp_path_factory) -> tuple[str, Path]:
    """A venv with wptserve and either this package or the real pywebsocket3."""
    venv = tmp_path_factory.mktemp(f"wptserve-{request.param}") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    package = [str(ROOT)] if request.param == "ours" else REFERENCE
    subprocess.run(
        [python, "-m", "pip", "install", "-q", "--no-deps", *WPTSERVE, *package],
        check=True, capture_output=True, timeout=600,
    )  # fmt: skip
    return request.param, python


def run_wptserve(python: Path, directory: Path, handlers: Path, env: dict[str, str] | None = None):
    """Start wptserve's HTTP/2 server on ``handlers``; a generator yielding (port, certificate, log)."""
    cert, key = make_certificate(directory)
    log = directory / "wptserve.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [python, str(SERVER_SCRIPT), str(cert), str(key), str(handlers)],
            cwd=directory, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})},
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not (match := re.search(r"^port (\d+)$", log.read_text(errors="replace"), re.M)):
            assert process.poll() is None, f"wptserve exited:\n{log.read_text(errors='replace')}"
            assert time.monotonic() < deadline, f"wptserve did not start:\n{log.read_text(errors='replace')}"
            time.sleep(0.05)
        yield int(match.group(1)), cert, log
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="module")
def wptserve(wptserve_python, tmp_path_factory):
    """wptserve's HTTP/2 server on the WPT-style handlers; yields (kind, port, certificate, log)."""
    kind, python = wptserve_python
    for port, cert, log in run_wptserve(python, tmp_path_factory.mktemp(f"wptserve-run-{kind}"), WPT_HANDLERS):
        yield kind, port, cert, log


@pytest.fixture
def h2(wptserve):
    _, port, cert, _ = wptserve
    connection = H2Connection("127.0.0.1", port, ssl.create_default_context(cafile=str(cert)), timeout=TIMEOUT)
    yield connection
    connection.close()


def open_ws(h2: H2Connection, path: str, *headers: tuple[str, str]):
    ws = h2.open_websocket(path, [("origin", "https://web-platform.test"), *headers])
    assert ws.status == 200, ws.response
    return ws


def stream_ends(h2: H2Connection, ws) -> None:
    """The server ends the stream (END_STREAM) once the handler has returned."""
    h2.wait(lambda: ws.stream_id in h2.ended or ws.stream_id in h2.reset)
    assert ws.stream_id in h2.ended


def assert_nothing_arrives(h2: H2Connection, ws, seconds: float = 1.0) -> None:
    """For ``seconds``, the server sends nothing on ``ws``'s stream (while serving the rest)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        h2.sock.settimeout(0.2)
        try:
            h2._pump()
        except TimeoutError:
            pass
    h2.sock.settimeout(TIMEOUT)
    assert not h2.data.get(ws.stream_id)


def test_pywebsocket3_is_this_package_before_any_handler_is_loaded(wptserve):
    kind, _, _, log = wptserve
    expected = "mod_pywebsocket" if kind == "ours" else "pywebsocket3"
    assert re.search(rf"^pywebsocket3 is {expected} from ", log.read_text(errors="replace"), re.M)


def test_echo_then_goodbye_closes_cleanly(h2):
    """WPT's pattern: send, get the echo, send "Goodbye"; the server closes 1000 (wasClean)."""
    ws = open_ws(h2, "/echo")
    for message in ["Hello", b"\x00\x01binary\xff", "", b"", "A" * WPT_65K]:
        ws.send(message)
        assert ws.recv() == message
    ws.send("Goodbye")
    assert ws.recv() == "Goodbye"
    frame = ws.recv_frame()
    assert (frame.opcode, frame.payload) == (CLOSE, close_body(1000))
    ws.send_frame(CLOSE, close_body(1000))
    stream_ends(h2, ws)


def test_a_short_message_after_silence_is_echoed(h2):
    """keeping-connection-open: a quiet stream still answers (no read waits for more bytes)."""
    ws = open_ws(h2, "/echo")
    time.sleep(2)
    ws.send("still here")
    assert ws.recv() == "still here"
    ws.send_frame(CLOSE, close_body(1000))
    assert ws.recv_frame().opcode == CLOSE
    stream_ends(h2, ws)


@pytest.mark.parametrize(("code", "reason"), [(1000, "bye"), (3000, "custom reason"), (4999, ""), (None, "")])
def test_client_close_is_answered_at_once_with_its_code_and_reason(h2, code, reason):
    ws = open_ws(h2, "/echo")
    ws.send_frame(CLOSE, b"" if code is None else close_body(code, reason))  # no END_STREAM
    frame = ws.recv_frame()
    assert frame.opcode == CLOSE
    assert frame.payload == (b"" if code is None else close_body(code, reason))
    stream_ends(h2, ws)


@pytest.mark.parametrize(("query", "body"), [("?code=1000&reason=done", close_body(1000, "done")),
                                             ("?code=3001&reason=x", close_body(3001, "x")), ("", b"")])  # fmt: skip
def test_server_initiated_close_completes_both_ways(h2, query, body):
    """Close-server-initiated-close: the server's close, our reply, then the stream ends."""
    ws = open_ws(h2, "/remote_close" + query)
    frame = ws.recv_frame()
    assert (frame.opcode, frame.payload) == (CLOSE, body)
    ws.send_frame(CLOSE, close_body(1000, "ok"))
    stream_ends(h2, ws)


def test_empty_messages_both_ways(h2):
    ws = open_ws(h2, "/empty_message")
    assert ws.recv() == ""
    assert ws.recv() == b""
    ws.send("")
    assert ws.recv() == "text:0"
    ws.send(b"")
    assert ws.recv() == "binary:0"
    ws.send(b"x" * WPT_65K)
    assert ws.recv() == f"binary:{WPT_65K}"
    ws.send_frame(CLOSE, close_body(1000))
    assert ws.recv_frame().opcode == CLOSE
    stream_ends(h2, ws)


def test_aborted_by_user_sends_nothing_more_and_the_connection_serves_on(h2):
    ws = open_ws(h2, "/abort_transfer")
    assert ws.recv() == "about to abort"
    ws.send("go")
    assert_nothing_arrives(h2, ws)  # no close frame, nothing at all, on that stream
    other = open_ws(h2, "/echo")
    other.send("after the abort")
    assert other.recv() == "after the abort"


def test_no_handler_is_404(h2):
    ws = h2.open_websocket("/no-such-handler")
    assert ws.status == 404


def test_permessage_deflate_over_wptserve(h2):
    ws = open_ws(h2, "/echo", ("sec-websocket-extensions", "permessage-deflate; client_max_window_bits"))
    assert ws.response.get("sec-websocket-extensions", "").startswith("permessage-deflate")
    ws.send("compressible " * 1000)
    frame = ws.recv_frame()
    assert frame.rsv1 and len(frame.payload) < 1000
    assert zlib.decompressobj(-15).decompress(frame.payload + b"\x00\x00\xff\xff") == b"compressible " * 1000
    ws.send_frame(CLOSE, close_body(1000))
    assert ws.recv_frame().opcode == CLOSE
    stream_ends(h2, ws)


# -- WS_COMPAT=pywebsocket3 reaches wptserve's HTTP/2 path from the environment ------------

COMPAT_HANDLERS = ROOT / "tests" / "integration" / "compat_handlers"


@pytest.fixture(scope="module")
def h2_pywebsocket3_profile(wptserve_python, tmp_path_factory):
    """wptserve with ``WS_COMPAT=pywebsocket3`` in its environment and nothing else changed."""
    kind, python = wptserve_python
    directory = tmp_path_factory.mktemp(f"wptserve-compat-{kind}")
    for port, cert, _ in run_wptserve(python, directory, COMPAT_HANDLERS, {"WS_COMPAT": "pywebsocket3"}):
        connection = H2Connection("127.0.0.1", port, ssl.create_default_context(cafile=str(cert)), timeout=TIMEOUT)
        yield connection
        connection.close()


def test_pywebsocket3_profile_answers_a_close_with_1000(h2_pywebsocket3_profile):
    h2 = h2_pywebsocket3_profile
    ws = open_ws(h2, "/echo")
    ws.send_frame(CLOSE, close_body(4001, "bye"))
    frame = ws.recv_frame()
    assert (frame.opcode, frame.payload) == (CLOSE, close_body(1000))
    stream_ends(h2, ws)


def test_pywebsocket3_profile_sends_no_close_after_a_handler_exception(h2_pywebsocket3_profile):
    """As with the real pywebsocket3 (MPWS_WPTSERVE_REFERENCE=1): the exception ends
    wptserve's thread for the stream, and nothing more comes on it, no close frame."""
    h2 = h2_pywebsocket3_profile
    ws = open_ws(h2, "/raise")
    ws.send("go")
    assert_nothing_arrives(h2, ws)
    other = open_ws(h2, "/echo")
    other.send("served on")
    assert other.recv() == "served on"
