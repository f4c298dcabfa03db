"""A memory budget for message data (WS_MAX_BUFFERED), under 20 clients sending 60 MiB at once.

The appliance runs with ``--memory 512m`` and its default budget (a quarter of that);
the standalone server with the same budget set by its flag, its memory sampled. Every
client either gets its message back intact or a close 1009, the server is never
killed, and a fresh client is served all along.
"""

from __future__ import annotations

import hashlib
import threading
import time

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from ..servers import EXAMPLES, start_appliance, start_standalone

pytestmark = pytest.mark.integration

MIB = 1 << 20
CLIENTS = 20
MESSAGE = 60 * MIB
MEMORY_LIMIT = 512 * MIB
LOAD_TIMEOUT = 180  # seconds for the whole load; it takes about 10 here


def _one_client(url: str, payload: bytes, digest: str, outcomes: list[str], start: threading.Event) -> None:
    try:
        with connect(url, max_size=None, compression=None, open_timeout=30, close_timeout=10) as ws:
            start.wait(30)
            ws.send(payload)
            echo = ws.recv(timeout=LOAD_TIMEOUT)
            outcomes.append("echoed" if hashlib.sha256(echo).hexdigest() == digest else "corrupted")
    except ConnectionClosed as e:
        outcomes.append(f"closed {e.rcvd.code if e.rcvd else None}")
    except Exception as e:  # noqa: BLE001 -- every outcome is recorded and judged below
        outcomes.append(f"error {type(e).__name__}: {e}")


def _fresh_clients(url: str, stop: threading.Event, served: list[float], failures: list[str]) -> None:
    """A new connection every half second, each echoing once, while the load runs."""
    while not stop.is_set():
        started = time.monotonic()
        try:
            with connect(url, open_timeout=10, close_timeout=5) as ws:
                ws.send("fresh")
                assert ws.recv(timeout=10) == "fresh"
            served.append(time.monotonic() - started)
        except Exception as e:  # noqa: BLE001
            failures.append(f"{type(e).__name__}: {e}")
        stop.wait(0.5)


def _load(url: str, sample=None) -> tuple[list[str], list[float], list[str]]:
    payload = bytes(range(256)) * (MESSAGE // 256)
    digest = hashlib.sha256(payload).hexdigest()
    outcomes: list[str] = []
    start, stop = threading.Event(), threading.Event()
    clients = [
        threading.Thread(target=_one_client, args=(url, payload, digest, outcomes, start)) for _ in range(CLIENTS)
    ]
    served: list[float] = []
    failures: list[str] = []
    fresh = threading.Thread(target=_fresh_clients, args=(url, stop, served, failures))
    for t in clients:
        t.start()
    time.sleep(1)  # all connected, then they send at once
    fresh.start()
    start.set()
    deadline = time.monotonic() + LOAD_TIMEOUT
    while any(t.is_alive() for t in clients) and time.monotonic() < deadline:
        if sample is not None:
            sample()
        time.sleep(0.1)
    stop.set()
    fresh.join(30)
    for t in clients:
        t.join(1)
    return outcomes, served, failures


def _judge(outcomes: list[str], served: list[float], failures: list[str]) -> None:
    assert len(outcomes) == CLIENTS, f"clients still waiting: {outcomes}"
    assert all(o in ("echoed", "closed 1009") for o in outcomes), outcomes
    assert "echoed" in outcomes, f"nobody was served: {outcomes}"
    assert not failures, failures
    assert served, "no fresh client was served during the load"


def test_the_appliance_keeps_to_its_memory_limit(tmp_path):
    server = start_appliance(
        EXAMPLES, tmp_path, docker_options={"mem_limit": MEMORY_LIMIT, "memswap_limit": MEMORY_LIMIT}
    )
    try:
        peak = [0]
        outcomes, served, failures = _load(
            server.url("ws", "/echo"), sample=lambda: peak.__setitem__(0, max(peak[0], server.memory()))
        )
        server.container.reload()
        state = server.container.attrs["State"]
        assert state["Status"] == "running" and not state["OOMKilled"], state
        _judge(outcomes, served, failures)
        logs = server.logs()
        if "closed 1009" in outcomes:
            assert "buffer budget reached: 128 MiB" in logs and "raise WS_MAX_BUFFERED" in logs, logs[-3000:]
        print(f"appliance: {outcomes.count('echoed')} echoed, {outcomes.count('closed 1009')} refused, "
              f"peak {peak[0] / MIB:.0f} of {MEMORY_LIMIT / MIB:.0f} MiB, {len(served)} fresh clients")  # fmt: skip
    finally:
        server.stop()


def test_the_standalone_server_keeps_to_its_budget(tmp_path):
    server = start_standalone(EXAMPLES, tmp_path, {"WS_MAX_BUFFERED": "128M"})
    try:
        base = server.memory()
        peak = [base]
        outcomes, served, failures = _load(
            server.url("ws", "/echo"), sample=lambda: peak.__setitem__(0, max(peak[0], server.memory()))
        )
        _judge(outcomes, served, failures)
        assert server.processes[0].poll() is None, "the server died"
        if "closed 1009" in outcomes:
            assert "buffer budget reached: 128 MiB" in server.logs() and "raise --max-buffered" in server.logs()
        # 128 MiB of messages, each held about 1.1x, plus a 4 MiB read per connection in flight.
        assert peak[0] - base < 400 * MIB, f"grew by {(peak[0] - base) / MIB:.0f} MiB"
        print(f"standalone: {outcomes.count('echoed')} echoed, {outcomes.count('closed 1009')} refused, "
              f"RSS {base / MIB:.0f} -> peak {peak[0] / MIB:.0f} MiB, {len(served)} fresh clients served")  # fmt: skip
    finally:
        server.stop()
