"""Starting and stopping the appliance: clean SIGTERM, clear start-up errors."""

from __future__ import annotations

import signal
import time

import docker
import pytest
from websockets.exceptions import ConnectionClosed, WebSocketException
from websockets.sync.client import connect

from ..servers import EXAMPLES, IMAGE, TESTBED, start_appliance, start_server
from .rawhttp import build_request, send_raw

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("kind", ["apache", "standalone"])
def test_sigterm_closes_websockets_with_1001_and_exits_cleanly(tmp_path, kind):
    server = start_server(kind, EXAMPLES, tmp_path)
    try:
        clients = []
        for scheme in ("ws", "wss", "ws"):
            ws = connect(server.url(scheme, "/echo"), ssl=server.client_ssl(scheme), compression=None, legacy=True)
            ws.send("hello")
            assert ws.recv(timeout=10) == "hello"
            clients.append(ws)
        started = time.monotonic()
        if kind == "apache":
            server.container.kill(signal="SIGTERM")
        else:
            for process in server.processes:
                process.send_signal(signal.SIGTERM)
        for ws in clients:
            with pytest.raises(ConnectionClosed) as info:
                ws.recv(timeout=15)
            assert info.value.rcvd is not None, "no close frame: the connection was cut"
            assert (info.value.rcvd.code, info.value.rcvd.reason) == (1001, "server shutting down")
        if kind == "apache":
            assert server.container.wait(timeout=20)["StatusCode"] == 0
            assert "stopping: closing open WebSockets with 1001" in server.logs()
        else:
            assert [p.wait(20) for p in server.processes] == [0, 0]
            assert "SIGTERM: closing open WebSockets with 1001" in server.logs()
        assert time.monotonic() - started < 15
    finally:
        server.stop()


@pytest.mark.parametrize("kind", ["apache", "standalone"])
def test_stop_keeps_its_deadline_when_handlers_never_return(tmp_path, kind):
    """SIGTERM with handlers that ignore it (they sleep forever): 1001 to every client, exit 0
    within WS_STOP_TIMEOUT + 2 s; the appliance under `docker stop` with its default 10 s."""
    env = {"WS_HANDLER_SCAN": "/srv/handlers/scanned"}
    if kind == "apache":
        stop_timeout = 4
        env["WS_STOP_TIMEOUT"] = str(stop_timeout)
    else:
        stop_timeout = 5  # the standalone server's fixed grace (StandaloneServer.shutdown)
    server = start_server(kind, TESTBED, tmp_path, env)
    try:
        clients = [
            connect(server.url(scheme, "/scanned/fault?where=transfer&how=block"), ssl=server.client_ssl(scheme),
                    compression=None, legacy=True)
            for scheme in ("ws", "wss", "ws")
        ]  # fmt: skip
        started = time.monotonic()
        if kind == "apache":
            server.container.stop()  # docker stop: SIGTERM, SIGKILL after 10 s
            code = server.container.wait(timeout=5)["StatusCode"]
        else:
            for process in server.processes:
                process.send_signal(signal.SIGTERM)
            code = max(p.wait(stop_timeout + 5) for p in server.processes)
        took = time.monotonic() - started
        for ws in clients:
            with pytest.raises(ConnectionClosed) as info:
                ws.recv(timeout=1)
            assert info.value.rcvd is not None and info.value.rcvd.code == 1001
        assert code == 0, server.logs()[-2000:]
        assert took < stop_timeout + 2, f"stopped after {took:.1f} s"
        if kind == "apache":
            assert "stop deadline (4s) reached" in server.logs()
    finally:
        server.stop()


def _run_to_exit(tmp_path, volumes=None, environment=None, timeout=30):
    client = docker.from_env()
    container = client.containers.run(IMAGE, detach=True, volumes=volumes or {}, environment=environment or {})
    try:
        status = container.wait(timeout=timeout)["StatusCode"]
        return status, container.logs().decode("utf-8", "replace")
    finally:
        container.remove(force=True)


def test_missing_handler_root_is_a_one_line_error(tmp_path):
    status, logs = _run_to_exit(tmp_path, environment={"WS_HANDLER_ROOT": "/srv/nowhere"})
    assert status != 0
    lines = logs.strip().splitlines()
    assert len(lines) == 1
    assert "error: WS_HANDLER_ROOT=/srv/nowhere does not exist; mount your handler folder there" in lines[0]


def test_bad_certificate_is_a_one_line_error(tmp_path):
    tls = tmp_path / "tls"
    tls.mkdir()
    (tls / "cert.pem").write_text("not a certificate\n")
    (tls / "key.pem").write_text("not a key\n")
    tls.chmod(0o755)
    status, logs = _run_to_exit(tmp_path, volumes={str(tls): {"bind": "/etc/mod_pywebsocket/tls", "mode": "ro"}})
    assert status != 0
    lines = logs.strip().splitlines()
    assert len(lines) == 1
    assert "cert.pem is not a PEM certificate" in lines[0]


@pytest.mark.parametrize(
    "env, message",
    [
        ({"WS_HANDLER_SCAN": "/etc"}, "WS_HANDLER_SCAN=/etc must be inside WS_HANDLER_ROOT"),
        ({"WS_MAX_MESSAGE_SIZE": "lots"}, "WS_MAX_MESSAGE_SIZE must be a positive number of bytes"),
        ({"WS_LOG_LEVEL": "loud"}, "WS_LOG_LEVEL must be one of"),
    ],
)
def test_bad_settings_are_one_line_errors(tmp_path, env, message):
    status, logs = _run_to_exit(tmp_path, environment=env)
    assert status != 0
    assert message in logs and len(logs.strip().splitlines()) == 1


@pytest.mark.parametrize("kind", ["apache", "standalone"])
def test_idle_connections_are_pinged_and_dead_peers_dropped(tmp_path, kind):
    """With WS_TIMEOUT=2: an idle client that answers pings stays, one that does not is dropped.

    The idle client outlives mod_reqtimeout's default 10 s body limit too (the
    configuration turns that limit off, or every WebSocket would die there).
    """
    app = start_server(kind, EXAMPLES, tmp_path, env={"WS_TIMEOUT": "2"})
    try:
        with connect(app.url("ws", "/echo"), compression=None) as alive, app.open_socket("ws") as silent:
            response = send_raw(silent, build_request("/echo"))
            assert response.status == 101
            started = time.monotonic()
            frames = silent.recv(64)  # the server's ping after one quiet Timeout period
            assert frames[:2] == b"\x89\x00"
            silent.settimeout(15)
            rest = b""
            while chunk := silent.recv(64):  # never answered: dropped after the next period
                rest += chunk
            assert time.monotonic() - started < 10
            time.sleep(max(0.0, 12 - (time.monotonic() - started)))
            alive.send("still alive after 12 s")
            assert alive.recv(timeout=10) == "still alive after 12 s"
    finally:
        app.stop()


def test_workers_run_as_www_data(tmp_path):
    app = start_appliance(EXAMPLES, tmp_path)
    try:
        script = (
            "import os, pwd\n"
            "for pid in filter(str.isdigit, os.listdir('/proc')):\n"
            "    cmd = open(f'/proc/{pid}/cmdline', 'rb').read().replace(b'\\0', b' ').decode()\n"
            "    if cmd.startswith('apache2 -f'):\n"
            "        print(pwd.getpwuid(os.stat(f'/proc/{pid}').st_uid).pw_name)\n"
        )
        users = app.container.exec_run(["python3", "-c", script]).output.decode().split()
        assert users.count("root") == 1  # the parent, which binds ports 80 and 443
        assert users.count("www-data") >= 1 and set(users) == {"root", "www-data"}
    finally:
        app.container.remove(force=True)


def test_read_only_root_filesystem(tmp_path):
    """Only the run directory and /tmp need to be writable (tmpfs)."""
    app = start_appliance(
        EXAMPLES,
        tmp_path,
        docker_options={"read_only": True, "tmpfs": {"/run/mod_pywebsocket": "", "/tmp": ""}},
    )
    try:
        for scheme in ("ws", "wss"):
            with connect(app.url(scheme, "/echo"), ssl=app.client_ssl(scheme)) as ws:
                ws.send("read-only")
                assert ws.recv(timeout=10) == "read-only"
    finally:
        app.stop()


def test_a_restarted_container_serves_again(tmp_path):
    app = start_appliance(EXAMPLES, tmp_path)
    try:
        with connect(app.url("ws", "/echo")) as ws:
            ws.send("before")
            assert ws.recv(timeout=10) == "before"
        app.container.restart(timeout=20)
        deadline = time.monotonic() + 60
        while True:
            try:
                app.container.reload()  # a restart may publish the port anew
                port = app.container.attrs["NetworkSettings"]["Ports"]["80/tcp"][0]["HostPort"]
                with connect(f"ws://127.0.0.1:{port}/echo", open_timeout=5) as ws:
                    ws.send("after")
                    assert ws.recv(timeout=10) == "after"
                break
            except (OSError, TimeoutError, KeyError, TypeError, WebSocketException):  # still starting
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
    finally:
        app.stop()
