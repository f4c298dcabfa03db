"""Rows t1-t6 of ``make bench``: one server's WebSockets over wss (HTTP/1.1), HTTP/2 and HTTP/3.

The same Python loop drives all three (send one message, wait for its echo), each
transport through a client of the same kind: ``client.Connection`` over TLS,
``tests/h2client.py`` (RFC 8441) and ``tests/h3client.py`` (RFC 9220, aioquic). The C
client of rows a and e1 has no HTTP/2 or HTTP/3, so these rows compare transports with
each other, not with those rows; the table's ratios are each transport's to wss on the
same server. Only our servers offer HTTP/2 (the appliance) or HTTP/3 (both).
"""

from __future__ import annotations

import math
import os
import ssl
import time
from collections.abc import Callable

from tests.h2client import H2Connection
from tests.h3client import H3Connection

from .client import Connection, Target, _timed, mask_frame

SMALL = "0123456789abcdef"
MiB = 1 << 20

#: metric -> (transport, message size)
ROWS = {"t1": ("wss", 16), "t2": ("h2", 16), "t3": ("h3", 16), "t4": ("wss", MiB), "t5": ("h2", MiB), "t6": ("h3", MiB)}
TITLES = {
    "t1": "16 B echo, round trips/s, wss (Python client)",
    "t2": "(t1) over HTTP/2 (RFC 8441)",
    "t3": "(t1) over HTTP/3 (RFC 9220)",
    "t4": "1 MiB echo, MiB/s, wss (Python client)",
    "t5": "(t4) over HTTP/2",
    "t6": "(t4) over HTTP/3",
}


def measure(metric: str, wss: Target | None, h2_port: int | None, h3_port: int | None, seconds: float) -> float:
    transport, size = ROWS[metric]
    payload = SMALL.encode() if size == 16 else os.urandom(size)
    opened = _open(transport, wss, h2_port, h3_port)
    if opened is None:
        return math.nan
    echo, close = opened
    try:
        rate = _timed(seconds, 1_000_000 if size == 16 else 100_000, lambda: echo(payload))
    finally:
        close()
    return rate if size == 16 else rate * size / MiB


def _open(
    transport: str, wss: Target | None, h2_port: int | None, h3_port: int | None
) -> tuple[Callable[[bytes], None], Callable[[], None]] | None:
    """``(echo(payload), close())`` on a fresh connection, or None when the server lacks it."""
    if transport == "wss":
        if wss is None:
            return None
        conn = Connection(wss)

        def echo_wss(payload: bytes) -> None:
            conn.send(mask_frame(0x2, payload))
            _check(conn.recv_frame()[2], payload)

        return echo_wss, conn.close
    if transport == "h2":
        if h2_port is None or wss is None or wss.tls is None:
            return None
        context = ssl.create_default_context(cafile=wss.cafile)
        h2 = H2Connection("127.0.0.1", h2_port, context)
        ws = h2.open_websocket("/echo")
        return _echo(ws), lambda: (ws.close(), h2.close())
    if h3_port is None:
        return None
    h3 = H3Connection("127.0.0.1", h3_port)
    ws3 = h3.open_websocket("/echo")
    return _echo(ws3), lambda: (ws3.close(), h3.close())


def _echo(ws) -> Callable[[bytes], None]:
    def echo(payload: bytes) -> None:
        ws.send(payload)
        _check(ws.recv(), payload)

    return echo


def _check(got: bytes | str, sent: bytes) -> None:
    if len(got) != len(sent):
        raise ValueError(f"echo of {len(got)} bytes for {len(sent)}")


def settle(seconds: float = 0.2) -> None:
    """A pause between transports: QUIC's and TCP's teardown off the next measurement."""
    time.sleep(seconds)
