"""RFC 6455 5.5.1 under concurrency: a handler sends from several threads while another
thread closes (or the server shuts down and ``close_all`` sends 1001). The client reads
the whole byte stream: every frame well formed, one close frame, and nothing after it."""

from __future__ import annotations

import itertools
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from mod_pywebsocket import common
from mod_pywebsocket.core.frames import FrameParser
from mod_pywebsocket.core.messages import Close, MessageAssembler

from ..servers import TESTBED, start_server
from .rawhttp import RawWebSocket

pytestmark = pytest.mark.integration

# (threads, size, kind, fragments): one and several threads, small and multi-megabyte,
# text (non-ASCII, so encoding takes time) and binary, whole and fragmented messages.
SHAPES = [
    (1, 4 * 1024 * 1024, "text", 0),
    (1, 2 * 1024 * 1024, "binary", 1),
    (1, 512, "text", 1),
    (3, 1024 * 1024, "mixed", 0),
    (4, 200, "mixed", 0),
    (2, 3 * 1024 * 1024, "text", 0),
]
CONNECTIONS = 240  # per server; each shape gets CONNECTIONS / len(SHAPES)
PARALLEL = 8
SHUTDOWN_CONNECTIONS = 48
DEADLINE = 150.0  # seconds per server, for the whole run


def check_stream(data: bytes) -> tuple[int, int]:
    """Parse everything the server sent; return (frames, frames after the close)."""
    parser = FrameParser(require_mask=False)
    assembler = MessageAssembler(None)
    parser.feed(data)
    frames = after_close = 0
    closed = False
    while (frame := parser.next_frame()) is not None:
        frames += 1
        if closed:
            after_close += 1
            continue
        event = assembler.process(frame)  # fragments in order, text is UTF-8
        if isinstance(event, Close):
            closed = True
            assert event.code == common.STATUS_GOING_AWAY, event
    assert parser.buffered() == 0, "the stream ends inside a frame"
    assert closed, "no close frame"
    return frames, after_close


def read_all(ws: RawWebSocket) -> bytes:
    """Everything the server sends until it closes the connection (megabytes: no quadratic joins)."""
    data = bytearray(ws.parser.take_raw(ws.parser.buffered()))
    while chunk := ws.sock.recv(1 << 20):
        data += chunk
    return bytes(data)


def run_one(server, scheme: str, query: str) -> tuple[int, int]:
    with server.open_socket(scheme, timeout=30) as sock:
        ws = RawWebSocket(sock)
        assert ws.handshake("/scanned/race?" + query).status == 101
        return check_stream(read_all(ws))


@pytest.fixture(scope="module", params=["apache", "standalone"])
def race_server(request, tmp_path_factory):
    server = start_server(request.param, TESTBED, tmp_path_factory.mktemp(f"race-{request.param}"),
                          {"WS_HANDLER_SCAN": "/srv/handlers/scanned"})  # fmt: skip
    yield server
    server.stop()


def test_nothing_after_the_close_frame_while_threads_send(race_server):
    started = time.monotonic()
    queries = [
        f"threads={t}&size={s}&kind={k}&fragments={f}&delay_ms=40"
        for (t, s, k, f) in itertools.islice(itertools.cycle(SHAPES), CONNECTIONS)
    ]
    schemes = itertools.cycle(["ws", "ws", "ws", "wss"])
    with ThreadPoolExecutor(PARALLEL) as pool:
        results = list(pool.map(lambda q: run_one(race_server, next(schemes), q), queries, timeout=DEADLINE))
    bad = [(q, r) for q, r in zip(queries, results, strict=True) if r[1]]
    assert not bad, f"{len(bad)} of {len(results)} connections had frames after the close: {bad[:5]}"
    assert sum(r[0] for r in results) > CONNECTIONS  # data frames did go out before the closes
    assert time.monotonic() - started < DEADLINE


class StreamChecker(threading.Thread):
    """Reads one connection from the moment it opens and checks each frame as it comes,
    keeping no payloads: at shutdown no sender sits blocked on a full socket buffer."""

    def __init__(self, ws: RawWebSocket, query: str) -> None:
        super().__init__(daemon=True)
        self.ws = ws
        self.query = query
        self.result: tuple[int, int] | BaseException | None = None

    def run(self) -> None:
        parser, assembler = self.ws.parser, MessageAssembler(None)
        frames = after_close = 0
        closed = False
        try:
            while True:
                while (frame := parser.next_frame()) is not None:
                    frames += 1
                    if closed:
                        after_close += 1
                    elif isinstance(event := assembler.process(frame), Close):
                        closed = True
                        assert event.code == common.STATUS_GOING_AWAY, event
                chunk = self.ws.sock.recv(1 << 20)
                if not chunk:
                    break
                parser.feed(chunk)
            assert parser.buffered() == 0, "the stream ends inside a frame"
            assert closed, "no close frame"
            self.result = (frames, after_close)
        except BaseException as e:  # noqa: BLE001 - reported by the test
            self.result = AssertionError(f"{self.query}: {e} after {frames} frames")


@pytest.mark.parametrize("kind", ["apache", "standalone"])
def test_nothing_after_the_close_frame_when_the_server_shuts_down(tmp_path, kind):
    """close_all (SIGTERM) closes with 1001 while every handler's threads are still sending."""
    server = start_server(kind, TESTBED, tmp_path, {"WS_HANDLER_SCAN": "/srv/handlers/scanned"})
    checkers: list[StreamChecker] = []
    try:
        for i in range(SHUTDOWN_CONNECTIONS):
            t, s, k, f = SHAPES[i % len(SHAPES)]
            ws = RawWebSocket(server.open_socket("ws", timeout=30))
            query = f"threads={t}&size={min(s, 256 * 1024)}&kind={k}&fragments={f}&close=server"
            assert ws.handshake(f"/scanned/race?{query}").status == 101
            checkers.append(StreamChecker(ws, query))
        # All the handshakes first: started one by one, the readers of the earlier
        # connections took the client's CPU from the later handshakes (42 s for 48).
        for checker in checkers:
            checker.start()
        time.sleep(0.5)
        if kind == "apache":
            server.container.kill(signal="SIGTERM")
        else:
            for process in server.processes:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + DEADLINE
        for checker in checkers:
            checker.join(max(0.0, deadline - time.monotonic()))
        errors = [c.result for c in checkers if not isinstance(c.result, tuple)]
        assert not errors, f"{len(errors)} of {len(checkers)} connections: {errors[:3]}\n{server.logs()[-2000:]}"
        bad = [c.result for c in checkers if c.result[1]]
        assert not bad, f"{len(bad)} of {len(checkers)} connections had frames after the close"
    finally:
        for checker in checkers:
            checker.ws.sock.close()
        server.stop()
