"""Seeing the wire (issue 25): per-connection captures that tshark dissects, the connection's
log line, handler tracebacks logged once, JSON logs, and ``/connections/``.

Both servers run with ``WS_CAPTURE=all`` and ``WS_LOG_FORMAT=json``; one client script
(a text message, a text message in three fragments, a binary one, then a close with
code and reason) runs over ws, wss, HTTP/2 (the appliance) and HTTP/3, and Debian's
tshark must find in the capture exactly the frames the client sent and received.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from ..h2client import H2Connection
from ..h3client import H3Connection
from ..servers import TESTBED, start_appliance, start_standalone
from .rawhttp import RawWebSocket
from .test_http3 import _wait_for_h3

pytestmark = pytest.mark.integration

ENV = {
    "WS_HANDLER_SCAN": "/srv/handlers/scanned",
    "WS_CAPTURE": "all",
    "WS_LOG_FORMAT": "json",
    "WS_LOG_LEVEL": "info",
}
TEXT, FRAGMENTS, BINARY = "hello, ünïcode ✓", ["frag-1 ", "frag-2 ", "frag-3"], bytes(range(256))
CLOSE = (1000, "bye now")


@pytest.fixture(scope="module", params=["apache", "standalone"])
def server(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp(f"capture-{request.param}")
    reports = tmp / "reports"
    reports.mkdir()
    os.chmod(reports, 0o777)
    if request.param == "apache":
        server = start_appliance(TESTBED, tmp, ENV, reports_dir=reports)
    else:
        server = start_standalone(TESTBED, tmp, ENV | {"WS_REPORTS_DIR": str(reports)}, h3=True)
    server.captures = reports / "captures"
    try:
        _wait_for_h3(server)
        yield server
    finally:
        server.stop()


def _tshark(path: Path, *fields: str, display_filter: str = "websocket") -> list[dict]:
    args = ["tshark", "-r", str(path), "-Y", display_filter, "-T", "json"]
    for field in fields:
        args += ["-e", field]
    out = subprocess.run(args, capture_output=True, text=True, timeout=60, check=True).stdout
    return [packet["_source"]["layers"] for packet in json.loads(out or "[]")]


def _one(layers: dict, field: str):
    value = layers.get(field)
    return value[0] if isinstance(value, list) and value else None


def _capture_of(server, connection_id: str, timeout: float = 10.0) -> Path:
    """The capture file of a connection, once its handler has ended (bounded wait)."""
    deadline = time.monotonic() + timeout
    while True:
        found = sorted(server.captures.glob(f"*-{connection_id}.pcapng")) if server.captures.exists() else []
        if found:
            return found[0]
        assert time.monotonic() < deadline, f"no capture of {connection_id}:\n{server.logs()[-3000:]}"
        time.sleep(0.1)


def _json_lines(server) -> list[dict]:
    lines = []
    for line in server.logs().splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))  # every JSON line parses (see test_every_log_line_is_json)
    return lines


def _connection_line(server, resource: str, transport: str, seen: set[str], timeout: float = 10.0) -> dict:
    """The connection line (logger mod_pywebsocket.connection) of a new connection."""
    deadline = time.monotonic() + timeout
    while True:
        for entry in _json_lines(server):
            if (
                entry.get("logger") == "mod_pywebsocket.connection"
                and entry.get("resource") == resource
                and entry.get("transport") == transport
                and entry["connection"] not in seen
            ):
                seen.add(entry["connection"])
                return entry
        assert time.monotonic() < deadline, f"no {transport} connection line:\n{server.logs()[-3000:]}"
        time.sleep(0.1)


# -- the same script over each transport ------------------------------------------------------


def _run_tcp(server, scheme: str) -> list[tuple[int, bytes]]:
    ws = RawWebSocket(server.open_socket(scheme))
    assert ws.handshake("/scanned/echo").status == 101
    return _script(ws.send_frame, lambda: ws.read_frame())


def _run_h2(server) -> list[tuple[int, bytes]]:
    conn = H2Connection("127.0.0.1", server.https_port, server.ssl_context())
    try:
        return _run_on_stream(conn.open_websocket("/scanned/echo"))
    finally:
        conn.close()


def _run_h3(server) -> list[tuple[int, bytes]]:
    with H3Connection("127.0.0.1", server.h3_port) as conn:
        return _run_on_stream(conn.open_websocket("/scanned/echo"))


def _run_on_stream(ws) -> list[tuple[int, bytes]]:
    """The script over an HTTP/2 or HTTP/3 test client's WebSocket (the same calls)."""
    assert ws.status == 200

    def read():
        frame = ws.recv_frame()
        return frame.opcode, frame.payload

    return _script(lambda op, payload, fin=True: ws.send_frame(op, payload, fin=fin), read)


def _script(send, read) -> list[tuple[int, bytes]]:
    """Send the messages and the close; return what the server sent."""
    got = []
    send(0x1, TEXT.encode())
    got.append(read())
    send(0x1, FRAGMENTS[0].encode(), fin=False)
    send(0x0, FRAGMENTS[1].encode(), fin=False)
    send(0x0, FRAGMENTS[2].encode(), fin=True)
    got.append(read())
    send(0x2, BINARY)
    got.append(read())
    send(0x8, CLOSE[0].to_bytes(2, "big") + CLOSE[1].encode())
    got.append(read())
    return got


# As tshark shows them: a fragmented message's middle fragment as its bytes
# (websocket.payload.continue), the last one as the whole message reassembled from the
# three; the first one's text only in that reassembly.
CLIENT_FRAMES = [
    (1, True, TEXT.encode()),
    (1, False, b""),
    (0, False, FRAGMENTS[1].encode()),
    (0, True, "".join(FRAGMENTS).encode()),
    (2, True, BINARY),
    (8, True, CLOSE[0].to_bytes(2, "big") + CLOSE[1].encode()),
]


def _frames_in(capture: Path) -> tuple[list[tuple], list[tuple]]:
    """(client's frames, server's frames) as tshark dissects them: (opcode, fin, payload)."""
    fields = ("websocket.opcode", "websocket.fin", "websocket.mask", "websocket.payload.text", "data.data",
              "websocket.payload.continue", "websocket.payload.close.status_code",
              "websocket.payload.close.reason")  # fmt: skip
    client, server = [], []
    for layers in _tshark(capture, *fields):
        opcode = int(_one(layers, "websocket.opcode"))
        fin = _one(layers, "websocket.fin") in ("1", "True", "true")
        if opcode == 8:
            code = int(_one(layers, "websocket.payload.close.status_code"))
            payload = code.to_bytes(2, "big") + (_one(layers, "websocket.payload.close.reason") or "").encode()
        elif opcode == 2:
            payload = bytes.fromhex((_one(layers, "data.data") or "").replace(":", ""))
        elif _one(layers, "websocket.payload.continue"):
            payload = bytes.fromhex(_one(layers, "websocket.payload.continue").replace(":", ""))
        else:
            payload = (_one(layers, "websocket.payload.text") or "").encode()
        masked = _one(layers, "websocket.mask") in ("1", "True", "true")
        (client if masked else server).append((opcode, fin, payload))
    return client, server


@pytest.mark.parametrize("transport", ["ws", "wss", "HTTP/2", "HTTP/3"])
def test_each_transport_is_captured_frame_by_frame(server, transport):
    if transport == "HTTP/2" and server.kind == "standalone":
        pytest.skip("the standalone server has no HTTP/2")
    seen = {e["connection"] for e in _json_lines(server) if e.get("logger") == "mod_pywebsocket.connection"}
    if transport in ("ws", "wss"):
        received = _run_tcp(server, transport)
    elif transport == "HTTP/2":
        received = _run_h2(server)
    else:
        received = _run_h3(server)
    assert received == [(1, TEXT.encode()), (1, "".join(FRAGMENTS).encode()), (2, BINARY), (8, received[3][1])]
    line = _connection_line(server, "/scanned/echo", transport, seen)
    assert (line["messages_in"], line["messages_out"]) == (3, 3)
    assert (line["close_in"], line["close_out"], line["outcome"]) == (1000, 1000, "closed")
    assert line["capture"] and line["capture"].endswith(f"{line['connection']}.pcapng")
    capture = _capture_of(server, line["connection"])
    client_frames, server_frames = _frames_in(capture)
    assert client_frames == CLIENT_FRAMES
    assert server_frames == [(op, True, payload) for op, payload in received]
    # The handshake is in the file (over HTTP/2 and 3 in HTTP/1.1 form, the comment says so).
    heads = _tshark(capture, "http.request.uri", "http.response.code", display_filter="http")
    assert [_one(h, "http.request.uri") or _one(h, "http.response.code") for h in heads] == ["/scanned/echo", "101"]
    comment = subprocess.run(["capinfos", "-k", str(capture)], capture_output=True, text=True, check=True).stdout
    assert line["connection"] in comment and transport in comment and "close in 1000" in comment


def test_a_handler_that_raises_logs_its_traceback_once(server):
    ws = RawWebSocket(server.open_socket("ws"))
    assert ws.handshake("/scanned/raise").status == 101
    ws.send_frame(0x1, b"go")
    assert ws.read_frame()[0] == 0x8  # 1011
    ws.send_frame(0x8, (1000).to_bytes(2, "big"))
    line = _connection_line(server, "/scanned/raise", "ws", set())
    assert "RuntimeError: raise_wsh: deliberate failure (raise_wsh.py:8 in web_socket_transfer_data)" == line["error"]
    assert line["close_out"] == 1011
    same = [e for e in _json_lines(server) if e.get("connection") == line["connection"]]
    tracebacks = [e for e in same if "traceback" in e]
    assert len(tracebacks) == 1, same
    assert 'raise_wsh.py", line 8, in web_socket_transfer_data' in tracebacks[0]["traceback"]
    assert "raise_wsh.py:8" in tracebacks[0]["message"]
    assert _capture_of(server, line["connection"]).exists()


def test_every_log_line_is_json(server):
    """stdout and stderr alike: the servers' own lines, Apache's, the access log."""
    lines = [line for line in server.logs().splitlines() if line.strip()]
    assert lines
    bad = []
    for line in lines:
        try:
            assert isinstance(json.loads(line), dict)
        except (ValueError, AssertionError):
            bad.append(line)
    assert not bad, bad[:10]


def test_connections_page_lists_them_and_links_the_captures(server):
    base = f"http://127.0.0.1:{server.http_port}/connections/"
    name = sorted(server.captures.glob("*.pcapng"))[-1].name
    page = name[: -len(".pcapng")] + ".html"
    deadline = time.monotonic() + 10  # the overview is written shortly after a connection ends
    while True:
        with urllib.request.urlopen(base, timeout=10) as response:
            index = response.read().decode()
        if page in index:
            break
        assert time.monotonic() < deadline, index
        time.sleep(0.1)
    assert "Recent WebSocket connections" in index and ".pcapng" in index and "/scanned/echo" in index
    with urllib.request.urlopen(base + name, timeout=10) as response:
        assert response.read()[:4] == b"\x0a\x0d\x0d\x0a"  # a pcapng section header
    with urllib.request.urlopen(base + page, timeout=10) as response:
        text = response.read().decode()
    assert "Frames" in text and "RX" in text and "TX" in text and "close" in text


@pytest.mark.parametrize("kind", ["apache", "standalone"])
def test_errors_keeps_only_the_connections_that_went_wrong(kind, tmp_path):
    """WS_CAPTURE=errors: a clean close leaves no capture (its page is still listed); a
    handler that raises and a client that drops TCP each leave one. Text logs here: the
    handler's traceback once, the connection line at info."""
    reports = tmp_path / "reports"
    reports.mkdir()
    os.chmod(reports, 0o777)
    env = {"WS_HANDLER_SCAN": "/srv/handlers/scanned", "WS_CAPTURE": "errors", "WS_LOG_LEVEL": "info"}
    if kind == "apache":
        server = start_appliance(TESTBED, tmp_path, env, reports_dir=reports)
    else:
        server = start_standalone(TESTBED, tmp_path, env | {"WS_REPORTS_DIR": str(reports)})
    captures = reports / "captures"
    try:
        ids = []
        for path, how in (("/scanned/echo", "clean"), ("/scanned/raise", "raise"), ("/scanned/echo", "drop")):
            ws = RawWebSocket(server.open_socket("ws"))
            assert ws.handshake(path).status == 101
            ws.send_frame(0x1, b"x")
            ws.read_frame()
            if how != "drop":
                ws.send_frame(0x8, (1000).to_bytes(2, "big"))
                ws.read_frame()
            ws.sock.close()
            ids.append(_wait_for_page(captures, set(ids)))
        deadline = time.monotonic() + 10
        while len(list(captures.glob("*.pcapng"))) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        kept = sorted(p.name.rsplit("-", 1)[1].split(".")[0] for p in captures.glob("*.pcapng"))
        assert kept == sorted(ids[1:]), server.logs()[-3000:]
        logs = server.logs()
        assert logs.count("Traceback (most recent call last)") == 1, logs[-3000:]
        assert "raise_wsh.py:8 in web_socket_transfer_data" in logs
        for connection in ids:  # its one line, with its id
            assert len([line for line in logs.splitlines() if f"[{connection}] ws /scanned/" in line]) == 1
    finally:
        server.stop()


def _wait_for_page(captures: Path, known: set[str], timeout: float = 10.0) -> str:
    """The id of a connection whose page appeared, not one of ``known``."""
    deadline = time.monotonic() + timeout
    while True:
        pages = captures.glob("*.json") if captures.exists() else []
        new = {p.stem.rsplit("-", 1)[1] for p in pages} - known
        if new:
            assert len(new) == 1
            return new.pop()
        assert time.monotonic() < deadline, "no new connection page"
        time.sleep(0.05)
