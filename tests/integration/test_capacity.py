"""At capacity: every WebSocket slot taken (WS_THREADS / --max-connections at 2).

A further upgrade gets 503 with Retry-After within a second, plain HTTP is still
served, the log says so once for the whole burst, and a freed slot serves again.
"""

from __future__ import annotations

import time

import pytest
import requests
from websockets.sync.client import connect

from ..servers import EXAMPLES, start_server
from .rawhttp import build_request, send_raw

pytestmark = pytest.mark.integration

LIMIT = 2


@pytest.mark.parametrize("kind", ["apache", "standalone"])
def test_upgrades_past_the_limit_get_503_and_http_is_still_served(tmp_path, kind):
    server = start_server(kind, EXAMPLES, tmp_path, {"WS_THREADS": str(LIMIT)})
    try:
        # The appliance serves ws and wss in one process; the standalone server in two.
        schemes = ["ws", "wss"] if kind == "apache" else ["ws", "wss"] * LIMIT
        held = [connect(server.url(s, "/echo"), ssl=server.client_ssl(s), compression=None, legacy=True)
                for s in schemes]  # fmt: skip
        for ws in held:
            ws.send("holding")
            assert ws.recv(timeout=10) == "holding"
        for scheme in ("ws", "wss", "ws", "wss", "ws"):
            with server.open_socket(scheme, timeout=5) as sock:
                started = time.monotonic()
                response = send_raw(sock, build_request("/echo"))
                took = time.monotonic() - started
            assert response.status == 503, response.raw[:300]
            assert response.header("Retry-After") == "1"
            assert took < 1.0, f"the 503 took {took:.2f} s"
        page = requests.get(server.url("http", "/console.html"), timeout=5)
        assert page.status_code == 200
        assert held[0].send("still here") is None and held[0].recv(timeout=10) == "still here"
        held.pop(0).close()  # a ws one
        deadline = time.monotonic() + 10
        while True:  # the slot is free once the server has seen the close
            with server.open_socket("ws", timeout=5) as sock:
                if send_raw(sock, build_request("/echo")).status == 101:
                    break
            assert time.monotonic() < deadline, "no slot came free after a close"
            time.sleep(0.1)
        for ws in held:
            ws.close()
        time.sleep(0.5)
        logs = server.logs()
        processes = 1 if kind == "apache" else 2
        assert logs.count("capacity reached: 2 WebSockets open") == processes, logs[-3000:]
        assert "raise " + ("WS_THREADS" if kind == "apache" else "--max-connections") in logs
    finally:
        server.stop()
