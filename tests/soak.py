"""``make soak``: both servers under steady mixed load for a bounded time.

    python -m tests.soak [--seconds 180] [--connections 200] [--server apache|standalone|both]

Each server gets ``--connections`` long-lived connections echoing messages of
random type and size (up to 64 KiB, some compressed), short-lived connections
opening and closing, and malformed handshakes, all at once. Every echo is
checked. It prints progress every 10 seconds and, at the end, messages,
failures and the server's memory before and after; it exits 1 if any echo was
lost or corrupted or any well-formed connection failed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

from websockets.asyncio.client import connect

from .servers import EXAMPLES, start_appliance, start_standalone


class Tally:
    def __init__(self) -> None:
        self.messages = 0
        self.short_lived = 0
        self.refused_as_expected = 0
        self.failures: list[str] = []


async def long_lived(url: str, deadline: float, tally: Tally, rng: random.Random) -> None:
    try:
        compression = "deflate" if rng.random() < 0.3 else None
        async with connect(url, compression=compression, max_size=None, open_timeout=60) as ws:
            while time.monotonic() < deadline:
                size = rng.choice((0, 1, 16, 125, 126, 1000, 65535, 65536))
                message: str | bytes = os.urandom(size) if rng.random() < 0.5 else "é" * (size // 2)
                await ws.send(message)
                echo = await asyncio.wait_for(ws.recv(), 60)
                if echo != message:
                    tally.failures.append(f"corrupted echo of {len(message)} bytes")
                    return
                tally.messages += 1
                await asyncio.sleep(rng.random() * 0.05)
    except Exception as e:  # noqa: BLE001 - every failure is counted and reported
        tally.failures.append(f"long-lived connection: {e!r}")


async def churn(url: str, deadline: float, tally: Tally) -> None:
    while time.monotonic() < deadline:
        try:
            async with connect(url, open_timeout=60) as ws:
                await ws.send("hello")
                if await asyncio.wait_for(ws.recv(), 60) != "hello":
                    tally.failures.append("short-lived echo corrupted")
            tally.short_lived += 1
        except Exception as e:  # noqa: BLE001
            tally.failures.append(f"short-lived connection: {e!r}")
        await asyncio.sleep(0.02)


async def bad_handshakes(port: int, deadline: float, tally: Tally) -> None:
    requests = [
        b"GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
        b"GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 7\r\n\r\n",
        bytes(range(256)) + b"\r\n\r\n",
    ]
    while time.monotonic() < deadline:
        for request in requests:
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(request)
                answer = await asyncio.wait_for(reader.read(12), 30)
                writer.close()
                if answer.startswith(b"HTTP/1.1 101"):
                    tally.failures.append(f"malformed handshake accepted: {request[:40]!r}")
                else:
                    tally.refused_as_expected += 1
            except (TimeoutError, OSError):
                tally.refused_as_expected += 1
        await asyncio.sleep(0.1)


async def run(name: str, port: int, seconds: float, connections: int, memory) -> bool:
    url = f"ws://127.0.0.1:{port}/echo"
    tally = Tally()
    rng = random.Random(1)
    before = memory()
    started = time.monotonic()
    deadline = started + seconds
    tasks = [
        asyncio.create_task(long_lived(url, deadline, tally, random.Random(rng.random()))) for _ in range(connections)
    ]
    tasks += [asyncio.create_task(churn(url, deadline, tally)) for _ in range(4)]
    tasks.append(asyncio.create_task(bad_handshakes(port, deadline, tally)))
    while not all(t.done() for t in tasks):
        await asyncio.sleep(10)
        print(
            f"{name}: {time.monotonic() - started:.0f}s, {tally.messages:,} echoes, "
            f"{tally.short_lived:,} short connections, {len(tally.failures)} failures",
            flush=True,
        )
        if time.monotonic() > deadline + 120:
            tally.failures.append("connections still running 120 s after the deadline")
            break
    after = memory()
    print(
        f"{name}: done: {tally.messages:,} echoes, {tally.short_lived:,} short connections, "
        f"{tally.refused_as_expected:,} malformed handshakes refused, {len(tally.failures)} failures; "
        f"memory {before / 2**20:.1f} -> {after / 2**20:.1f} MiB",
        flush=True,
    )
    for failure in tally.failures[:10]:
        print(f"  {failure}")
    return not tally.failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=180)
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--server", choices=["apache", "standalone", "both"], default="both")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))
    tmp = Path(tempfile.mkdtemp(prefix="mpws-soak-"))
    ok = True
    for kind in ("apache", "standalone") if args.server == "both" else (args.server,):
        if kind == "apache":
            server = start_appliance(EXAMPLES, tmp)
        else:
            server = start_standalone(EXAMPLES, tmp, {"WS_LOG_LEVEL": "warn"})
        try:
            ok &= asyncio.run(run(kind, server.port("ws"), args.seconds, args.connections, server.memory))
        finally:
            server.stop()
    print("soak: " + ("passed" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
