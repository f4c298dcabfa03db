"""A second client under test: the ``websockets`` library's sync client, echoing.

It drives any fuzzingserver (ours at ``/autobahn`` or kosoku's) through the URL API
the way Autobahn's own client harnesses do: count the cases, run each one echoing
every message back until the server closes, then ask for the reports.

    python -m tests.client_conformance.echo_client ws://127.0.0.1:8080/autobahn AGENT [CASE ...]
"""

from __future__ import annotations

import fnmatch
import json
import sys
import time

from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidMessage
from websockets.sync.client import connect

OPEN_TIMEOUT = 10


def _one_message(url: str, ssl=None) -> str:
    with connect(url, open_timeout=OPEN_TIMEOUT, compression=None, ssl=ssl) as ws:
        return str(ws.recv(timeout=OPEN_TIMEOUT))


def case_ids(base: str, ssl=None) -> list[str]:
    count = int(_one_message(f"{base}/getCaseCount", ssl))
    return [json.loads(_one_message(f"{base}/getCaseInfo?case={n}", ssl))["id"] for n in range(1, count + 1)]


def run_case(base: str, number: int, agent: str, deadline: float = 300.0, ssl=None) -> None:
    """Echo every message of case ``number`` until the server ends the connection."""
    started = time.monotonic()
    try:
        with connect(
            f"{base}/runCase?case={number}&agent={agent}",
            open_timeout=OPEN_TIMEOUT,
            max_size=None,
            close_timeout=3,
            ping_interval=None,
            ssl=ssl,
        ) as ws:
            while time.monotonic() - started < deadline:
                try:
                    message = ws.recv(timeout=deadline)
                except TimeoutError:
                    break
                ws.send(message)
    except (ConnectionClosed, InvalidHandshake, InvalidMessage, OSError):
        pass


def update_reports(base: str, agent: str, ssl=None) -> None:
    with connect(f"{base}/updateReports?agent={agent}", open_timeout=OPEN_TIMEOUT, compression=None, ssl=ssl) as ws:
        try:
            ws.recv(timeout=60)
        except ConnectionClosed:
            pass


def run(
    base: str, agent: str, patterns: list[str] | None = None, progress=None, *, selected: bool = False, ssl=None
) -> int:
    """Run the cases matching ``patterns`` (all if none); how many ran. ``selected``: the
    server already holds just those (kosoku's ``-i``): run all it counts."""
    if selected or not patterns:
        numbers = list(range(1, int(_one_message(f"{base}/getCaseCount", ssl)) + 1))
    else:
        ids = case_ids(base, ssl)
        numbers = [n for n, i in enumerate(ids, 1) if any(fnmatch.fnmatchcase(i, p) for p in patterns)]
    for done, number in enumerate(numbers, 1):
        run_case(base, number, agent, ssl=ssl)
        if progress is not None:
            progress(done, len(numbers), number)
    update_reports(base, agent, ssl)
    return len(numbers)


if __name__ == "__main__":
    run(sys.argv[1], sys.argv[2], sys.argv[3:] or None, progress=lambda d, n, i: print(f"{d}/{n} {i}", flush=True))
