"""Verdicts of one client from two fuzzingservers, side by side.

``run_kosoku(patterns, agent, client)`` runs kosoku's fuzzingserver on a free port,
lets ``client(base_url, agent, patterns)`` drive it and returns kosoku's index (agent
-> case id -> verdicts); ``compare(ours, theirs)`` lists the cases whose behaviour or
close verdict differs.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

KOSOKU = Path(sys.executable).with_name("kosoku")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_listening(port: int, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}")


def run_kosoku(patterns: list[str] | None, agent: str, client, timeout: float = 900) -> dict:
    port = free_port()
    out = tempfile.mkdtemp(prefix="kosoku-")
    args = [str(KOSOKU), "-m", "fuzzingserver", f"127.0.0.1:{port}", "-o", out]
    for p in patterns or ():
        args += ["-i", p]
    server = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        _wait_listening(port)
        client(f"ws://127.0.0.1:{port}", agent, patterns)
        server.wait(timeout=timeout)
        with open(os.path.join(out, "index.json"), encoding="utf-8") as f:
            return json.load(f)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
        shutil.rmtree(out, ignore_errors=True)


# Cases whose OK or NON-STRICT depends on timing alone, in either suite: a valid message,
# then a frame the client must fail on, then a ping, all at once; whether the client's
# echo of the message leaves before it fails the connection is a race (OK if it does,
# NON-STRICT if not). Both verdicts are passes.
# 5.15 (a fragmented message, then a continuation with nothing to continue) is the same
# race: kosoku once judged the websockets client NON-STRICT there, ours OK.
TIMING_DECIDED = frozenset({"3.2", "3.3", "3.4", "4.1.3", "4.1.4", "4.1.5", "4.2.3", "4.2.4", "4.2.5", "5.15"})


def compare(ours: dict[str, dict], theirs: dict[str, dict]) -> list[tuple[str, tuple, tuple]]:
    """(case id, our verdicts, theirs) for every case both ran where a verdict differs."""
    differ = []
    for case_id in sorted(set(ours) & set(theirs), key=lambda i: [int(p) for p in i.split(".")]):
        a = (ours[case_id]["behavior"], ours[case_id]["behaviorClose"])
        b = (theirs[case_id]["behavior"], theirs[case_id]["behaviorClose"])
        if a != b:
            differ.append((case_id, a, b))
    return differ
