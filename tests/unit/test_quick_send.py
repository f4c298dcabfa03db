"""The standalone server's write that keeps the GIL (``_speedups.send_ready``) and its fallback."""

from __future__ import annotations

import socket

import pytest

from mod_pywebsocket.adapters.standalone import server


@pytest.mark.skipif(server._send_ready is None, reason="_speedups not built")
def test_small_and_large_writes_arrive_whole():
    a, b = socket.socketpair()
    with a, b:
        conn = server.SocketConnection(a, b"", None, None)
        assert conn._quick_send
        conn.write(b"small")
        assert b.recv(100) == b"small"
        big = bytes(range(256)) * 4096  # 1 MiB: more than the socket takes at once
        received = bytearray()

        import threading

        reader = threading.Thread(target=lambda: [received.extend(b.recv(1 << 20)) for _ in iter(
            lambda: len(received) < len(big), False)])  # fmt: skip
        reader.start()
        conn.write(big)
        reader.join(10)
        assert bytes(received) == big


@pytest.mark.skipif(server._send_ready is None, reason="_speedups not built")
def test_a_closed_socket_raises_rather_than_writing_elsewhere():
    a, b = socket.socketpair()
    conn = server.SocketConnection(a, b"", None, None)
    a.close()
    with pytest.raises(OSError):
        conn.write(b"x")
    b.close()


def test_send_ready_takes_what_fits_without_blocking():
    send_ready = server._send_ready
    if send_ready is None:
        pytest.skip("_speedups not built")
    a, b = socket.socketpair()
    with a, b:
        sent = 0
        for _ in range(10_000):  # nobody reads b: the buffer fills and then takes nothing
            n = send_ready(a.fileno(), b"z" * 65536)
            sent += n
            if n == 0:
                break
        assert n == 0 and sent > 0
