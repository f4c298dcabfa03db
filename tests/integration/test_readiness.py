"""Ready means ready: the appliance reports healthy (Docker's health check, which asks
/mod_pywebsocket/ready) only once every listener serves, ws, wss, HTTP/2 and HTTP/3 at
once; it logs one ready line with the addresses really listening; the standalone server
says the same of its own sockets."""

from __future__ import annotations

import json
import re
import shutil
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from websockets.sync.client import connect

from ..h2client import H2Connection
from ..h3client import H3Connection
from ..servers import EXAMPLES, ROOT, Appliance, make_certificate, start_appliance

pytestmark = pytest.mark.integration

READY = "/mod_pywebsocket/ready"
READY_LINE = re.compile(r"^mod_pywebsocket: ready: (.*)$", re.M)
#: How long the HTTP/3 process of the first test takes to load its handlers (it answers
#: 503 meanwhile): longer than the watcher's 5 s before it says why it is not ready.
SLOW_H3 = 6
SLOW_HANDLER = f"""\
import sys
import time

# Loaded at start by each server process: only the HTTP/3 one takes its time.
if getattr(sys, "argv", None) and sys.argv[0].endswith("h3/__main__.py"):
    time.sleep({SLOW_H3})


def web_socket_do_extra_handshake(request):
    pass


def web_socket_transfer_data(request):
    request.ws_stream.receive_message()
"""


def _handlers(tmp_path: Path, slow_h3: bool = False) -> Path:
    folder = tmp_path / "handlers"
    folder.mkdir()
    shutil.copy(EXAMPLES / "echo_wsh.py", folder / "echo_wsh.py")
    if slow_h3:
        (folder / "slow_wsh.py").write_text(SLOW_HANDLER)
    for path in (folder, *folder.iterdir()):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return folder


def _health(app: Appliance) -> str:
    app.container.reload()
    return app.container.attrs["State"].get("Health", {}).get("Status", "none")


def _ask(url: str, timeout: float = 3.0) -> tuple[int, str]:
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    request = urllib.request.Request(url, headers={"User-Agent": "mod_pywebsocket-healthcheck"})
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def _wait_healthy(app: Appliance, timeout: float = 40.0) -> list[tuple[int, str]]:
    """Poll the health status and the endpoint until healthy; the endpoint's answers seen."""
    answers = []
    deadline = time.monotonic() + timeout
    while _health(app) != "healthy":
        assert time.monotonic() < deadline, f"not healthy within {timeout}s:\n{app.logs()[-3000:]}"
        answers.append(_ask(app.url("http", READY)))
        time.sleep(0.1)
    return answers


def _ready_lines(app: Appliance) -> list[str]:
    return READY_LINE.findall(app.logs())


def _every_transport_echoes(app: Appliance) -> None:
    """One echo over each: ws, wss (HTTP/1.1), wss over HTTP/2, wss over HTTP/3; no retries."""
    for scheme in ("ws", "wss"):
        with connect(app.url(scheme, "/echo"), ssl=app.client_ssl(scheme), open_timeout=5) as ws:
            ws.send(f"over {scheme}")
            assert ws.recv(timeout=5) == f"over {scheme}"
    h2 = H2Connection("127.0.0.1", app.https_port, app.ssl_context(), timeout=5)
    try:
        ws = h2.open_websocket("/echo")
        assert ws.status == 200
        ws.send("over HTTP/2")
        assert ws.recv() == "over HTTP/2"
        ws.close()
    finally:
        h2.close()
    with H3Connection("127.0.0.1", app.h3_port, timeout=5) as h3:
        ws = h3.open_websocket("/echo")
        assert ws.status == 200
        ws.send("over HTTP/3")
        assert ws.recv() == "over HTTP/3"
        ws.close()


def test_healthy_only_once_every_listener_serves(tmp_path):
    """The HTTP/3 process takes SLOW_H3 s to load the handlers (503 meanwhile): the endpoint
    answers 503 and why, the container is not healthy; the first moment it is, ws, wss,
    HTTP/2 and HTTP/3 all echo; one ready line, with the container's real addresses;
    docker stop still exits 0 promptly."""
    started = time.monotonic()
    app = start_appliance(_handlers(tmp_path, slow_h3=True), tmp_path)
    try:
        answers = _wait_healthy(app)
        healthy_after = time.monotonic() - started
        _every_transport_echoes(app)
        refusals = [body for status, body in answers if status == 503]
        assert refusals, f"never answered 503 before ready: {answers}"
        # 503 until the watcher's file is there (a 200 may come just before Docker's next check).
        statuses = [status for status, _ in answers]
        assert statuses == sorted(statuses, reverse=True) and set(statuses) <= {200, 503}, answers
        assert any(re.search(r"not ready: .*HTTP/3 on udp 127\.0\.0\.1:443: answers 503", b) for b in refusals)
        assert healthy_after > SLOW_H3, f"healthy after {healthy_after:.1f}s, before HTTP/3 could serve"
        logs = app.logs()
        assert "mod_pywebsocket: not ready yet: HTTP/3 on udp 127.0.0.1:443: answers 503" in logs
        address = app.container.attrs["NetworkSettings"]["IPAddress"]
        assert _ready_lines(app) == [
            f"ws://127.0.0.1:80 ws://{address}:80 (HTTP/1.1); wss://127.0.0.1:443 wss://{address}:443 "
            f"(HTTP/1.1, HTTP/2); udp 127.0.0.1:443 {address}:443 (HTTP/3)"
        ]
        for scheme in ("http", "https"):
            status, body = _ask(app.url(scheme, READY))
            assert status == 200
            listeners = json.loads(body)["listeners"]
            assert [(x["name"], x["protocols"], x["addresses"]) for x in listeners] == [
                ("ws", ["HTTP/1.1"], ["127.0.0.1:80", f"{address}:80"]),
                ("wss", ["HTTP/1.1", "HTTP/2"], ["127.0.0.1:443", f"{address}:443"]),
                ("h3", ["HTTP/3"], ["127.0.0.1:443", f"{address}:443"]),
            ]
        assert "/mod_pywebsocket/ready" not in logs  # the probes are not in the access log
        print(f"healthy {healthy_after:.1f}s after docker run (HTTP/3 held back {SLOW_H3}s)")
        stopping = time.monotonic()
        app.container.stop(timeout=15)
        assert app.container.wait(timeout=5)["StatusCode"] == 0
        assert time.monotonic() - stopping < 5
    finally:
        app.stop()


@pytest.mark.parametrize(
    "env, note",
    [({"WS_H3": "off"}, None), ({"WS_LISTEN_H3": "192.0.2.1:443"}, "the HTTP/3 listener cannot run (exit status 3")],
    ids=["h3-off", "h3-cannot-bind"],
)
def test_without_http3_readiness_does_not_wait_for_it(tmp_path, env, note):
    started = time.monotonic()
    app = start_appliance(_handlers(tmp_path), tmp_path, env)
    try:
        _wait_healthy(app)
        took = time.monotonic() - started
        assert took < 15, f"healthy only after {took:.1f}s"
        status, body = _ask(app.url("http", READY))
        assert status == 200 and [x["name"] for x in json.loads(body)["listeners"]] == ["ws", "wss"]
        [line] = _ready_lines(app)
        assert "udp" not in line and "HTTP/3" not in line
        if note:
            assert note in app.logs()
    finally:
        app.stop()


def test_the_ready_line_has_the_addresses_really_listening(tmp_path):
    """On the host's network, on ports other than 80/443: the line and the page say them."""
    app = start_appliance(_handlers(tmp_path), tmp_path, host_network=True)
    try:
        _wait_healthy(app)  # the health check follows WS_LISTEN_HTTP too
        [line] = _ready_lines(app)
        assert line == (
            f"ws://127.0.0.1:{app.http_port} (HTTP/1.1); wss://127.0.0.1:{app.https_port} (HTTP/1.1, HTTP/2); "
            f"udp 127.0.0.1:{app.h3_port} (HTTP/3)"
        )
        body = json.loads(_ask(app.url("https", READY))[1])
        assert [x["bound"] for x in body["listeners"]] == [
            [f"127.0.0.1:{app.http_port}"],
            [f"127.0.0.1:{app.https_port}"],
            [f"127.0.0.1:{app.h3_port}"],
        ]
    finally:
        app.stop()


def test_a_listener_that_stops_serving_is_noticed_and_its_return_too(tmp_path):
    app = start_appliance(_handlers(tmp_path), tmp_path)
    try:
        _wait_healthy(app)
        pause = "kill -{} $(cat /run/mod_pywebsocket/h3.pid)"
        assert app.container.exec_run(["sh", "-c", pause.format("STOP")]).exit_code == 0
        deadline = time.monotonic() + 30  # rechecked every 10 s, confirmed 1 s later
        while "not ready any more: HTTP/3" not in app.logs():
            assert time.monotonic() < deadline, app.logs()[-2000:]
            time.sleep(0.2)
        status, body = _ask(app.url("http", READY))
        assert status == 503 and body.startswith("not ready: HTTP/3 on udp 127.0.0.1:443: no QUIC handshake")
        assert app.container.exec_run(["sh", "-c", pause.format("CONT")]).exit_code == 0
        deadline = time.monotonic() + 10
        while len(_ready_lines(app)) < 2:
            assert time.monotonic() < deadline, app.logs()[-2000:]
            time.sleep(0.2)
        assert _ask(app.url("http", READY))[0] == 200
    finally:
        app.stop()


def test_the_balancer_is_ready_on_its_own_listeners(tmp_path):
    """No replica answers (a port nothing listens on): the balancer itself serves, so it is ready."""
    env = {"WS_ROLE": "balancer", "WS_BALANCER_MEMBERS": "127.0.0.1:9"}
    app = start_appliance(_handlers(tmp_path), tmp_path, env)
    try:
        _wait_healthy(app)
        for scheme in ("http", "https"):
            status, body = _ask(app.url(scheme, READY))
            document = json.loads(body)
            assert status == 200 and document["server"] == "balancer"
            assert [(x["name"], x["protocols"]) for x in document["listeners"]] == [
                ("ws", ["HTTP/1.1"]),
                ("wss", ["HTTP/1.1"]),
            ]
        assert _ask(app.url("http", "/echo"))[0] == 503  # every other path goes to the replicas
        assert len(_ready_lines(app)) == 1
    finally:
        app.stop()


# -- the standalone server ------------------------------------------------------------------


def _read_until(log: Path, pattern: str, process: subprocess.Popen, timeout: float = 30.0) -> re.Match:
    deadline = time.monotonic() + timeout
    while not (match := re.search(pattern, log.read_text(errors="replace"))):
        assert process.poll() is None, log.read_text(errors="replace")
        assert time.monotonic() < deadline, log.read_text(errors="replace")
        time.sleep(0.05)
    return match


def test_the_standalone_server_says_ready_with_its_real_ports(tmp_path):
    """At its default log level (warn): one ready line per process with the ports port 0
    became, and /mod_pywebsocket/ready on every listener, HTTP/3 included."""
    handlers = _handlers(tmp_path)
    cert, key = make_certificate(tmp_path)
    base = [sys.executable, "-m", "mod_pywebsocket.standalone", "-H", "127.0.0.1", "-p", "0", "-w", str(handlers),
            "-d", str(handlers), "--reports-dir", str(tmp_path / "reports")]  # fmt: skip
    runs = {"ws": base, "wss": [*base, "-t", "-k", str(key), "-c", str(cert), "--h3-port", "0"]}
    processes, logs = {}, {}
    try:
        for name, command in runs.items():
            logs[name] = tmp_path / f"{name}.log"
            with open(logs[name], "wb") as out:
                processes[name] = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        plain = _read_until(logs["ws"], r"ready: ws://127\.0\.0\.1:(\d+) \(HTTP/1\.1\)\n", processes["ws"])
        tls = _read_until(
            logs["wss"], r"ready: wss://127\.0\.0\.1:(\d+) \(HTTP/1\.1\); udp 127\.0\.0\.1:(\d+) \(HTTP/3\)\n",
            processes["wss"],
        )  # fmt: skip
        http_port, https_port, h3_port = int(plain.group(1)), int(tls.group(1)), int(tls.group(2))
        assert 0 not in (http_port, https_port, h3_port)
        assert f"listening on 127.0.0.1:{http_port} (ws)" in logs["ws"].read_text()
        status, body = _ask(f"http://127.0.0.1:{http_port}{READY}")
        assert status == 200
        assert json.loads(body)["listeners"] == [
            {"name": "ws", "transport": "tcp", "protocols": ["HTTP/1.1"], "bound": [f"127.0.0.1:{http_port}"],
             "addresses": [f"127.0.0.1:{http_port}"], "urls": [f"ws://127.0.0.1:{http_port}"]},
        ]  # fmt: skip
        status, body = _ask(f"https://127.0.0.1:{https_port}{READY}")
        assert status == 200
        names = [(x["name"], x["bound"]) for x in json.loads(body)["listeners"]]
        assert names == [("wss", [f"127.0.0.1:{https_port}"]), ("h3", [f"127.0.0.1:{h3_port}"])]
        with H3Connection("127.0.0.1", h3_port, timeout=5) as h3:
            headers, over_h3 = h3.get(READY)
            assert headers[":status"] == "200" and json.loads(over_h3) == json.loads(body)
        for name, process in processes.items():
            process.send_signal(signal.SIGTERM)
            assert process.wait(15) == 0
            assert len(re.findall(r"\bready: ", logs[name].read_text())) == 1
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
                process.wait()
