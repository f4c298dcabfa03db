"""The benchmark client: raw sockets, pre-built frames, nothing the server's speed hides behind.

Every measurement is bounded in time and in count. Client frames are masked
with a random key chosen once per measurement, so the client does not spend
its time masking; the server still unmasks every byte.
"""

from __future__ import annotations

import base64
import os
import socket
import ssl
import struct
import subprocess
import threading
import time
import zlib
from contextlib import contextmanager
from dataclasses import dataclass


def mask_frame(opcode: int, payload: bytes, rsv1: bool = False) -> bytes:
    key = os.urandom(4)
    n = len(payload)
    first = 0x80 | (0x40 if rsv1 else 0) | opcode
    if n < 126:
        header = struct.pack("!BB", first, 0x80 | n)
    elif n < 65536:
        header = struct.pack("!BBH", first, 0x80 | 126, n)
    else:
        header = struct.pack("!BBQ", first, 0x80 | 127, n)
    masked = (int.from_bytes(payload, "little") ^ int.from_bytes((key * (n // 4 + 1))[:n], "little")).to_bytes(
        n, "little"
    )
    return header + key + masked


CLOSE_FRAME = mask_frame(0x8, b"\x03\xe8")


@dataclass
class Target:
    host: str
    port: int
    tls: ssl.SSLContext | None = None
    path: str = "/echo"
    cafile: str | None = None  # for the C client, with ``tls``


# The C client (rtclient.c) for the latency-bound measurements; set by bench.run once built.
C_CLIENT: str | None = None


def _c_client(mode: str, target: Target, seconds: float) -> float:
    """Run rtclient: ``rt`` (16-byte round trips) or ``hs`` (handshakes); return runs per second."""
    command = [C_CLIENT, mode, target.host, str(target.port), target.path, str(seconds)]
    if target.tls is not None:
        command.append(target.cafile)
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    if done.returncode != 0:
        raise ConnectionError(done.stderr.strip() or f"rtclient exited {done.returncode}")
    count, elapsed = done.stdout.split()
    return int(count) / float(elapsed)


@dataclass
class SweepPoint:
    """One step of the load sweep: echoes/s with ``connections`` all echoing, and the
    server's memory meanwhile (MiB); ``stopped`` says why a server could not take them."""

    connections: int
    echoes_per_second: float | None = None
    memory_mib: float | None = None
    stopped: str = ""


def sweep_point(target: Target, connections: int, seconds: float, memory) -> SweepPoint:
    """Run ``rtclient many``: open ``connections``, then all echo for ``seconds``."""
    command = [C_CLIENT, "many", target.host, str(target.port), target.path, str(seconds), str(connections)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    point = SweepPoint(connections)
    try:
        assert process.stderr is not None and process.stdout is not None
        opened = process.stderr.readline()  # "opened N", or why not
        if not opened.startswith("opened"):
            process.wait(30)
            point.stopped = (opened + process.stderr.read()).strip().removeprefix("rtclient: ") or "no connection"
            return point
        time.sleep(seconds / 2)
        point.memory_mib = memory() / (1 << 20)
        out, err = process.communicate(timeout=seconds + 60)
        if process.returncode != 0:
            point.stopped = err.strip().removeprefix("rtclient: ") or f"rtclient exited {process.returncode}"
            return point
        count, elapsed = out.split()
        point.echoes_per_second = int(count) / float(elapsed)
        return point
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


class Connection:
    """A client WebSocket over a blocking socket with a read buffer."""

    def __init__(self, target: Target, deflate: bool = False, timeout: float = 10.0) -> None:
        sock = socket.create_connection((target.host, target.port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if target.tls is not None:
            sock = target.tls.wrap_socket(sock, server_hostname=target.host)
        self.sock = sock
        self.buf = bytearray()
        key = base64.b64encode(os.urandom(16)).decode()
        extension = "Sec-WebSocket-Extensions: permessage-deflate\r\n" if deflate else ""
        sock.sendall(
            f"GET {target.path} HTTP/1.1\r\nHost: {target.host}:{target.port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{extension}\r\n".encode()
        )
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, _, rest = bytes(self.buf).partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            raise ConnectionError(f"handshake refused: {head[:40]!r}")
        self.deflate = b"permessage-deflate" in head.lower()
        self.buf = bytearray(rest)

    def _fill(self) -> None:
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise ConnectionError("closed by the server")
        self.buf += chunk

    def _take(self, n: int) -> bytes:
        while len(self.buf) < n:
            self._fill()
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def recv_frame(self) -> tuple[int, bool, bytes]:
        b0, b1 = self._take(2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._take(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._take(8))[0]
        return b0 & 0x0F, bool(b0 & 0x40), self._take(n)

    def send(self, frame: bytes) -> None:
        self.sock.sendall(frame)

    def close(self) -> None:
        try:
            self.sock.sendall(CLOSE_FRAME)
            while self.recv_frame()[0] != 0x8:
                pass
        except (OSError, ConnectionError):
            pass
        finally:
            self.sock.close()


def _timed(seconds: float, max_count: int, step) -> float:
    """Run ``step`` until ``seconds`` pass or ``max_count`` runs; return runs per second."""
    count = 0
    start = time.perf_counter()
    deadline = start + seconds
    while count < max_count and time.perf_counter() < deadline:
        step()
        count += 1
    return count / (time.perf_counter() - start)


def round_trips(target: Target, seconds: float = 1.5) -> float:
    """(a) 16-byte text echo round trips per second on one connection."""
    if C_CLIENT:
        return _c_client("rt", target, seconds)
    conn = Connection(target)
    frame = mask_frame(0x1, b"0123456789abcdef")

    def step() -> None:
        conn.send(frame)
        conn.recv_frame()

    try:
        return _timed(seconds, 1_000_000, step)
    finally:
        conn.close()


def throughput(target: Target, seconds: float = 1.5, deflate: bool = False) -> float:
    """(b) MiB/s of 1 MiB binary echoes; with ``deflate``, (g): compressible data, compressed."""
    conn = Connection(target, deflate=deflate)
    if deflate:
        if not conn.deflate:
            conn.close()
            return float("nan")
        data = (b"the quick brown fox jumps over the lazy dog " * 25000)[: 1 << 20]
        compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
        frame = mask_frame(0x2, (compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4], rsv1=True)
    else:
        frame = mask_frame(0x2, os.urandom(1 << 20))

    inflater = zlib.decompressobj(-15)  # servers keep their compression context between messages

    def step() -> None:
        conn.send(frame)
        opcode, compressed, payload = conn.recv_frame()
        if compressed:
            payload = inflater.decompress(payload + b"\x00\x00\xff\xff")
        if len(payload) != 1 << 20:
            raise ValueError(f"echo of {len(payload)} bytes")

    try:
        return _timed(seconds, 100_000, step)
    finally:
        conn.close()


def handshakes(target: Target, seconds: float = 1.5) -> float:
    """(c) sequential open + close handshakes per second."""
    if C_CLIENT:
        return _c_client("hs", target, seconds)

    def step() -> None:
        Connection(target).close()

    return _timed(seconds, 100_000, step)


def many_clients(target: Target, clients: int = 100, echoes: int = 100, timeout: float = 120.0) -> float:
    """(d) seconds for ``clients`` connections to do ``echoes`` echoes each, all at once, and close.

    The C client drives them from one thread: 100 Python client threads spend most of
    the run handing their own GIL around (measured here: 1.4-1.7 s for websockets and
    the C echo alike, against 0.3-0.5 s in an earlier run on a quieter machine), so the
    servers' differences drown in the client's. Without it, Python threads as before.
    """
    if C_CLIENT:
        command = [C_CLIENT, "many", target.host, str(target.port), target.path, str(timeout), str(clients)]
        done = subprocess.run([*command, str(echoes)], capture_output=True, text=True, timeout=timeout + 60)
        if done.returncode != 0:
            raise ConnectionError(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "rtclient failed")
        count, elapsed = done.stdout.split()
        if int(count) != clients * echoes:
            raise ConnectionError(f"{count} echoes, not {clients * echoes}")
        return float(elapsed)
    frame = mask_frame(0x1, b"0123456789abcdef")
    errors: list[BaseException] = []
    ready = threading.Barrier(clients + 1, timeout=timeout)

    def client() -> None:
        try:
            conn = Connection(target, timeout=timeout)
            ready.wait()
            for _ in range(echoes):
                conn.send(frame)
                conn.recv_frame()
            conn.close()
        except BaseException as e:  # noqa: BLE001 - reported by the caller
            errors.append(e)
            ready.abort()

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    ready.wait()
    start = time.perf_counter()
    for t in threads:
        t.join(timeout)
    if errors:
        raise RuntimeError(f"{len(errors)} clients failed: {errors[0]!r}")
    return time.perf_counter() - start


@contextmanager
def hold_idle(target: Target, limit: int = 2000, seconds: float = 90.0, handshake_timeout: float = 3.0):
    """(f) open idle connections until ``limit``, a refusal, or a slow handshake; yield how many are open."""
    conns = []
    deadline = time.monotonic() + seconds
    try:
        while len(conns) < limit and time.monotonic() < deadline:
            try:
                conns.append(Connection(target, timeout=handshake_timeout))
            except (OSError, ConnectionError):
                break
        yield len(conns)
    finally:
        for conn in conns:
            conn.sock.close()


def memory_growth(target: Target, memory, messages: int = 1_000_000, seconds: float = 300.0, progress=None) -> float:
    """(h) how much the server's memory grows over ``messages`` 16-byte echoes on one connection, in KiB.

    One message in flight at a time, so that every message costs the server a
    read and a write call (where mod_python would allocate). Stops early at
    ``seconds``; the figure is then scaled to ``messages``.
    """
    conn = Connection(target)
    frame = mask_frame(0x1, b"0123456789abcdef")
    try:
        for _ in range(10_000):  # warm-up: caches, arenas, first allocations
            conn.send(frame)
            conn.recv_frame()
        before = memory()
        deadline = time.monotonic() + seconds
        done = 0
        while done < messages and time.monotonic() < deadline:
            for _ in range(10_000):
                conn.send(frame)
                conn.recv_frame()
            done += 10_000
            if progress and done % 200_000 == 0:
                progress(done)
        after = memory()
    finally:
        conn.close()
    return (after - before) / 1024 * messages / max(done, 1)
