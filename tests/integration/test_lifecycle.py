"""Starting and stopping the appliance: clean SIGTERM, clear start-up errors."""

from __future__ import annotations

import time

import docker
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from ..appliance import EXAMPLES, IMAGE, start_appliance

pytestmark = pytest.mark.integration


def test_sigterm_closes_websockets_with_1001_and_exits_cleanly(tmp_path):
    app = start_appliance(EXAMPLES, tmp_path)
    try:
        clients = []
        for scheme in ("ws", "wss", "ws"):
            ws = connect(app.url(scheme, "/echo"), ssl=app.client_ssl(scheme), compression=None, legacy=True)
            ws.send("hello")
            assert ws.recv(timeout=10) == "hello"
            clients.append(ws)
        started = time.monotonic()
        app.container.kill(signal="SIGTERM")
        for ws in clients:
            with pytest.raises(ConnectionClosed) as info:
                ws.recv(timeout=15)
            assert info.value.rcvd is not None, "no close frame: the connection was cut"
            assert (info.value.rcvd.code, info.value.rcvd.reason) == (1001, "server shutting down")
        result = app.container.wait(timeout=20)
        assert result["StatusCode"] == 0
        assert time.monotonic() - started < 15
        logs = app.logs()
        assert "stopping: closing open WebSockets with 1001" in logs
    finally:
        app.container.remove(force=True)


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
