import os
import threading
import time

import pytest

from mod_pywebsocket import common
from mod_pywebsocket.core.errors import (
    BadOperationException,
    ConnectionTerminatedException,
    InvalidFrameException,
    InvalidUTF8Exception,
    MessageTooBigException,
)
from mod_pywebsocket.stream import Stream, StreamOptions

from .fakes import client_frame, close_frame, make_request

T, B, C = common.OPCODE_TEXT, common.OPCODE_BINARY, common.OPCODE_CONTINUATION


def stream_for(data: bytes, chunk: int = 1 << 20, **options):
    request = make_request(data, chunk=chunk)
    request.ws_stream = Stream(request, StreamOptions(**options))
    return request, request.ws_stream


@pytest.mark.parametrize("chunk", [1, 3, 7, 1 << 20])
def test_text_binary_and_fragments_any_read_size(chunk):
    data = (
        client_frame(T, "héllo".encode())
        + client_frame(B, b"\x00\xff")
        + client_frame(T, "é".encode()[:1], fin=False)
        + client_frame(common.OPCODE_PING, b"p")
        + client_frame(C, "é".encode()[1:])
        + client_frame(T, b"")
        + close_frame(4000, "bye")
    )
    request, stream = stream_for(data, chunk)
    assert stream.receive_message() == "héllo"
    assert stream.receive_message() == b"\x00\xff"
    assert stream.receive_message() == "é"
    assert stream.receive_message() == ""
    assert stream.receive_message() is None
    assert (request.ws_close_code, request.ws_close_reason) == (4000, "bye")
    frames = request.connection.frames()
    assert [f.opcode for f in frames] == [common.OPCODE_PONG, common.OPCODE_CLOSE]
    assert frames[0].payload == b"p"
    assert frames[1].payload == (4000).to_bytes(2, "big")  # default passive close echoes the code
    assert request.client_terminated and request.server_terminated
    with pytest.raises(BadOperationException):
        stream.receive_message()


def test_large_message_lengths():
    for n in (125, 126, 65535, 65536, 1 << 20):
        payload = bytes(range(256)) * (n // 256) + b"x" * (n % 256)
        _, stream = stream_for(client_frame(B, payload))
        assert stream.receive_message() == payload


def test_empty_close_is_1005_and_reply_is_empty():
    request, stream = stream_for(close_frame(None))
    assert stream.receive_message() is None
    assert request.ws_close_code == common.STATUS_NO_STATUS_RECEIVED
    assert request.ws_close_reason is None
    assert request.connection.frames()[0].payload == b""


@pytest.mark.parametrize(
    "data, code, exc",
    [
        (client_frame(T, b"\xff"), 1007, InvalidUTF8Exception),
        (client_frame(T, b"\xce", fin=False) + client_frame(C, b"\x41"), 1007, InvalidUTF8Exception),
        (client_frame(C, b"x"), 1002, InvalidFrameException),
        (client_frame(T, b"a", fin=False) + client_frame(T, b"b"), 1002, InvalidFrameException),
        (client_frame(T, b"a", rsv1=True), 1002, InvalidFrameException),
        (client_frame(3, b""), 1002, InvalidFrameException),
        (client_frame(common.OPCODE_PING, b"x" * 126), 1002, InvalidFrameException),
        (client_frame(common.OPCODE_PING, b"", fin=False), 1002, InvalidFrameException),
        (bytes([0x81, 0x01]) + b"a", 1002, InvalidFrameException),  # unmasked
        (close_frame(1005), 1002, InvalidFrameException),
        (close_frame(999), 1002, InvalidFrameException),
        (client_frame(common.OPCODE_CLOSE, b"\x03"), 1002, InvalidFrameException),
        (client_frame(common.OPCODE_CLOSE, b"\x03\xe8\xff"), 1007, InvalidUTF8Exception),
        (client_frame(B, b"x" * 11), 1009, MessageTooBigException),
        (client_frame(B, b"x" * 6, fin=False) + client_frame(C, b"x" * 6), 1009, MessageTooBigException),
    ],
)
def test_protocol_errors_fail_with_the_right_code(data, code, exc):
    request, stream = stream_for(data, max_message_size=10)
    with pytest.raises(exc):
        stream.receive_message()
    close = request.connection.frames()[-1]
    assert close.opcode == common.OPCODE_CLOSE
    assert int.from_bytes(close.payload[:2], "big") == code
    assert request.server_terminated
    with pytest.raises(ConnectionTerminatedException):
        stream.receive_message()


def test_fail_fast_utf8_before_message_ends():
    # The first fragment is already invalid: no need to wait for the rest.
    request, stream = stream_for(client_frame(T, b"\xc0\xaf", fin=False))
    with pytest.raises(InvalidUTF8Exception):
        stream.receive_message()


def test_eof_raises_connection_terminated():
    _, stream = stream_for(client_frame(T, b"ab")[:3])
    with pytest.raises(ConnectionTerminatedException):
        stream.receive_message()


def test_idle_timeout_pings_once_then_gives_up():
    request, stream = stream_for(client_frame(T, b"hi"))
    request.connection.timeouts = 1
    assert stream.receive_message() == "hi"
    assert request.connection.frames()[0].opcode == common.OPCODE_PING
    request.connection.timeouts = 2
    with pytest.raises(ConnectionTerminatedException):
        stream.receive_message()


def test_send_message_and_fragments():
    request, stream = stream_for(b"")
    stream.send_message("é")
    stream.send_message(b"\x01", binary=True)
    stream.send_message("a", end=False)
    stream.send_message("b", end=False)
    with pytest.raises(BadOperationException):
        stream.send_message(b"c", end=True, binary=True)
    stream.send_message("c")
    frames = request.connection.frames()
    assert [(f.opcode, f.fin, f.payload) for f in frames] == [
        (T, 1, "é".encode()),
        (B, 1, b"\x01"),
        (T, 0, b"a"),
        (C, 0, b"b"),
        (C, 1, b"c"),
    ]
    with pytest.raises(BadOperationException):
        stream.send_message("x", binary=True)


def test_close_connection_waits_for_reply_and_drops_data():
    request, stream = stream_for(client_frame(T, b"late") + close_frame(1000))
    stream.close_connection(4001, "server bye")
    assert request.server_terminated and request.client_terminated
    assert request.ws_close_code == 1000
    frames = request.connection.frames()
    assert len(frames) == 1 and frames[0].payload == (4001).to_bytes(2, "big") + b"server bye"
    with pytest.raises(BadOperationException):
        stream.send_message("after close")
    stream.close_connection()  # a second close is a no-op


@pytest.mark.parametrize("code", [999, 1005, 1006, 1015, 5000])
def test_close_connection_rejects_unsendable_codes(code):
    _, stream = stream_for(b"")
    with pytest.raises(BadOperationException):
        stream.close_connection(code)


def test_close_with_no_code_sends_empty_body():
    request, stream = stream_for(close_frame(None))
    stream.close_connection(None)
    assert request.connection.frames()[0].payload == b""
    with pytest.raises(BadOperationException):
        stream_for(b"")[1].close_connection(None, "reason without code")


def test_ping_limits_and_handlers():
    request, stream = stream_for(client_frame(common.OPCODE_PING, b"x") + client_frame(common.OPCODE_PONG, b"p"))
    seen = []
    request.on_ping_handler = lambda req, payload: seen.append(("ping", payload))
    request.on_pong_handler = lambda req, payload: seen.append(("pong", payload))
    stream.send_ping("p")
    with pytest.raises(BadOperationException):
        stream.send_ping(b"x" * 126)
    request.connection.incoming += close_frame(1000)
    assert stream.receive_message() is None
    assert seen == [("ping", b"x"), ("pong", b"p")]
    # on_ping_handler replaces the automatic pong
    assert [f.opcode for f in request.connection.frames()] == [common.OPCODE_PING, common.OPCODE_CLOSE]


class PipeConnection:
    """wptserve's HTTP/2 connection in miniature: read(n) is a buffered pipe read, which
    blocks until exactly n bytes have arrived (or the writer closes)."""

    def __init__(self) -> None:
        rfd, wfd = os.pipe()
        self.rfile = os.fdopen(rfd, "rb")
        self.wfile = os.fdopen(wfd, "wb", 0)
        self.written = bytearray()
        self.asked: list[int] = []

    def read(self, n: int) -> bytes:
        self.asked.append(n)
        return self.rfile.read(n)

    def write(self, data: bytes) -> None:
        self.written += data


def test_a_connection_that_blocks_for_n_bytes_is_asked_only_for_what_the_frame_needs():
    request = make_request()
    request.connection = conn = PipeConnection()
    stream = Stream(request, StreamOptions())
    frames = [client_frame(T, b"Goodbye"), client_frame(B, b"x" * 300), client_frame(B, b"y" * 70_000), close_frame()]
    results: list = []
    reader = threading.Thread(target=lambda: results.extend(stream.receive_message() for _ in frames), daemon=True)
    reader.start()
    for count, frame in enumerate(frames, 1):  # one at a time, nothing after it: a larger read blocks for ever
        conn.wfile.write(frame)
        deadline = time.monotonic() + 5
        while len(results) < count and reader.is_alive() and time.monotonic() < deadline:
            time.sleep(0.005)
        assert len(results) == count, f"no message for frame {count}: asked {conn.asked}"
    reader.join(5)
    assert results == ["Goodbye", b"x" * 300, b"y" * 70_000, None]
    # 2 header bytes, then the extended length, then mask + payload, as pywebsocket3 reads
    assert conn.asked == [2, 4 + 7, 2, 2, 4 + 300, 2, 8, 4 + 70_000, 2, 4 + 2]
    conn.wfile.close()
    conn.rfile.close()


def test_our_own_connections_are_read_in_large_chunks():
    request = make_request(client_frame(T, b"a") + client_frame(T, b"b"))
    request.connection.read_returns_available = True
    asked: list[int] = []
    read = request.connection.read
    request.connection.read = lambda n: asked.append(n) or read(n)
    stream = Stream(request, StreamOptions())
    assert stream.receive_message() == "a" and stream.receive_message() == "b"
    assert asked == [16 * 1024]  # one read brought both frames


def test_fragments_that_arrive_in_one_read_make_a_message_without_another_read():
    request, stream = stream_for(client_frame(T, b"a", fin=False) + client_frame(C, b"b") + client_frame(T, b"c"))
    assert stream.receive_message() == "ab"  # the fake connection has nothing more: a read would end it
    assert stream.receive_message() == "c"
