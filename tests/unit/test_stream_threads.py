"""One connection, one thread receiving while others send: the ordering rules hold.

The stream's threading contract (runtime/blocking_stream.py's docstring): every call
into the core under one lock, every frame produced and written under the write lock.
These runs race a reader (which answers pings and closes, or fails the connection on
bad input) against senders that flood messages and pings, over a real socket pair, and
check what the client got: whole frames only, one close, nothing after it.
"""

from __future__ import annotations

import socket
import threading
import time

import pytest

from mod_pywebsocket import common
from mod_pywebsocket.core.connection import InvalidState
from mod_pywebsocket.core.errors import BadOperationException, ConnectionTerminatedException, InvalidUTF8Exception
from mod_pywebsocket.core.frames import FrameParser
from mod_pywebsocket.stream import Stream, StreamOptions

from .fakes import SocketConnection, client_frame, close_frame, make_request

RUNS = 25
SECONDS = 10.0  # each run's bound


def client(sock: socket.socket, script: list[bytes], got: bytearray) -> None:
    """Send the script a frame at a time while reading everything, to end of stream."""

    def read() -> None:
        while data := sock.recv(65536):
            got.extend(data)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    for frame in script:
        sock.sendall(frame)
    reader.join(SECONDS)


def sender(stream: Stream, stop: threading.Event, pings: bool) -> None:
    n = 0
    try:
        while not stop.is_set() and n < 5000:
            n += 1
            if pings and n % 7 == 0:
                stream.send_ping(f"{n}")
            else:
                stream.send_message(f"message {n} " * (n % 50), binary=False)
    except (InvalidState, BadOperationException, ConnectionTerminatedException):
        pass  # the close went: sends are refused


def run(script: list[bytes]) -> tuple[list, BaseException | None]:
    server_sock, client_sock = socket.socketpair()
    request = make_request()
    request.connection = SocketConnection(server_sock)
    stream = Stream(request, StreamOptions())
    stop = threading.Event()
    senders = [threading.Thread(target=sender, args=(stream, stop, i == 0), daemon=True) for i in range(2)]
    got = bytearray()
    peer = threading.Thread(target=client, args=(client_sock, script, got), daemon=True)
    for thread in (peer, *senders):
        thread.start()
    error: BaseException | None = None
    try:
        while stream.receive_message() is not None:
            pass
    except (InvalidUTF8Exception, ConnectionTerminatedException) as e:
        error = e
    stop.set()
    for thread in senders:
        thread.join(SECONDS)
    server_sock.shutdown(socket.SHUT_RDWR)
    peer.join(SECONDS)
    server_sock.close()
    client_sock.close()
    parser = FrameParser(require_mask=False)
    parser.feed(bytes(got))
    frames = []
    while (frame := parser.next_frame()) is not None:  # raises on a frame cut by another
        frames.append(frame)
    assert parser.buffered() == 0, "a frame was cut off"
    return frames, error


def pings_and_messages(n: int) -> list[bytes]:
    script = []
    for i in range(n):
        script.append(client_frame(common.OPCODE_TEXT, f"hello {i}".encode()))
        if i % 5 == 0:
            script.append(client_frame(common.OPCODE_PING, f"p{i}".encode()))
    return script


@pytest.mark.parametrize("run_number", range(RUNS))
def test_a_client_close_raced_by_senders_is_the_last_frame(run_number):
    started = time.monotonic()
    frames, error = run([*pings_and_messages(40), close_frame(4000, "bye")])
    assert error is None
    closes = [i for i, f in enumerate(frames) if f.opcode == common.OPCODE_CLOSE]
    assert closes == [len(frames) - 1], "exactly one close, and nothing after it"
    assert frames[-1].payload == (4000).to_bytes(2, "big")
    pongs = [f.payload for f in frames if f.opcode == common.OPCODE_PONG]
    assert pongs == [f"p{i}".encode() for i in range(0, 40, 5)]
    assert time.monotonic() - started < SECONDS


@pytest.mark.parametrize("run_number", range(RUNS))
def test_a_failure_the_reader_finds_raced_by_senders_is_the_last_frame(run_number):
    """Text that turns invalid in the middle of a frame that never ends: the reader fails
    the connection (1007) while the senders flood; its close is the one close, and last."""
    bad = client_frame(common.OPCODE_TEXT, b"valid, then \xff" + b"x" * 5000)[:100]
    frames, error = run([*pings_and_messages(10), bad])
    assert isinstance(error, InvalidUTF8Exception)
    closes = [i for i, f in enumerate(frames) if f.opcode == common.OPCODE_CLOSE]
    assert closes == [len(frames) - 1]
    assert frames[-1].payload[:2] == (1007).to_bytes(2, "big")
