"""Handler hot reload in both servers: edit a handler file, the next connection runs the new code."""

from __future__ import annotations

import os
import time

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from ..servers import start_server

pytestmark = pytest.mark.integration

LIVE = """
VERSION = {version!r}


def web_socket_do_extra_handshake(request):
    pass


def web_socket_transfer_data(request):
    while True:
        message = request.ws_stream.receive_message()
        if message is None:
            return
        request.ws_stream.send_message(VERSION + ":" + message)
"""


_last_stamp = [0]


def write(path, text: str) -> None:
    """Write a handler file with an mtime later than any before (even within one clock tick)."""
    path.write_text(text)
    os.chmod(path, 0o644)
    _last_stamp[0] = max(time.time_ns(), _last_stamp[0] + 10**9)
    os.utime(path, ns=(_last_stamp[0], _last_stamp[0]))


def echo(ws, message: str) -> str:
    ws.send(message)
    return ws.recv(timeout=10)


def wait_for_log(server, text: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while text not in server.logs():
        assert time.monotonic() < deadline, f"not in the log: {text!r}"
        time.sleep(0.2)


@pytest.fixture
def handler_root(tmp_path):
    root = tmp_path / "handlers"
    root.mkdir()
    os.chmod(tmp_path, 0o755)
    os.chmod(root, 0o755)
    write(root / "live_wsh.py", LIVE.format(version="v1"))
    return root


@pytest.mark.parametrize("kind", ["apache", "standalone"])
def test_edits_reach_new_connections_and_spare_open_ones(tmp_path, handler_root, kind):
    server = start_server(kind, handler_root, tmp_path)
    live = handler_root / "live_wsh.py"
    try:
        url = server.url("ws", "/live")
        with connect(url) as old:
            assert echo(old, "a") == "v1:a"
            write(live, LIVE.format(version="v2"))
            with connect(url) as new:
                assert echo(new, "b") == "v2:b"
            assert echo(old, "c") == "v1:c"  # an open connection keeps its code

            write(live, "def web_socket_transfer_data(request:\n")
            with pytest.raises(InvalidStatus) as info:
                connect(url)
            assert info.value.response.status_code == 500
            wait_for_log(server, "live_wsh.py: failed to load: SyntaxError")

            write(live, LIVE.format(version="v3"))
            with connect(url) as new:
                assert echo(new, "d") == "v3:d"
            wait_for_log(server, "live_wsh.py: reloaded")

            os.remove(live)
            with pytest.raises(InvalidStatus) as info:
                connect(url)
            assert info.value.response.status_code == 404
            wait_for_log(server, "live_wsh.py: removed")

            write(handler_root / "added_wsh.py", LIVE.format(version="added"))
            time.sleep(1.1)  # new files are looked for at most once a second
            with connect(server.url("ws", "/added")) as new:
                assert echo(new, "e") == "added:e"
            assert echo(old, "f") == "v1:f"
    finally:
        server.stop()


@pytest.mark.parametrize("kind", ["apache", "standalone"])
def test_reload_off_keeps_the_first_version(tmp_path, handler_root, kind):
    server = start_server(kind, handler_root, tmp_path, {"WS_HANDLER_RELOAD": "off"})
    try:
        write(handler_root / "live_wsh.py", LIVE.format(version="v2"))
        with connect(server.url("ws", "/live")) as ws:
            assert echo(ws, "a") == "v1:a"
    finally:
        server.stop()
