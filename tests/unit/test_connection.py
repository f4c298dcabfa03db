"""The sans-I/O connection core: state, both directions, the sending rules, the raw path."""

from __future__ import annotations

import threading

import pytest

from mod_pywebsocket import common
from mod_pywebsocket.core.connection import InvalidState, ServerConnection, State
from mod_pywebsocket.core.errors import BadOperationException, ConnectionTerminatedException, ProtocolError
from mod_pywebsocket.core.frames import FrameParser
from mod_pywebsocket.core.messages import Close, Control, Message
from mod_pywebsocket.stream import Stream, StreamOptions

from .fakes import client_frame, close_frame, make_request

T, B, C = common.OPCODE_TEXT, common.OPCODE_BINARY, common.OPCODE_CONTINUATION


def frames_of(data: bytes):
    parser = FrameParser(require_mask=False)
    parser.allow_rsv1 = True
    parser.feed(data)
    out = []
    while (frame := parser.next_frame()) is not None:
        out.append(frame)
    assert parser.buffered() == 0
    return out


def test_events_from_bytes_and_the_state_through_a_closing_handshake():
    core = ServerConnection()
    assert core.state is State.OPEN
    core.receive_data(client_frame(T, b"hi") + client_frame(common.OPCODE_PING, b"p") + close_frame(4000, "x"))
    assert core.next_event() == Message(T, "hi")
    assert core.next_event() == Control(common.OPCODE_PING, b"p")
    close = core.next_event()
    assert isinstance(close, Close) and (close.code, close.reason) == (4000, "x")
    assert core.state is State.CLOSING and (core.close_code, core.close_reason) == (4000, "x")
    assert core.next_event() is None
    reply = core.send_close(4000)
    assert core.state is State.CLOSED
    assert [(f.opcode, f.payload) for f in frames_of(reply)] == [(common.OPCODE_CLOSE, (4000).to_bytes(2, "big"))]


def test_nothing_but_unchecked_frames_after_our_close():
    core = ServerConnection()
    core.send_close(1000, "bye")
    assert core.state is State.CLOSING
    for send in (
        lambda: core.send_message(b"x", binary=True),
        lambda: core.send_ping(b""),
        lambda: core.send_pong(b""),
        lambda: core.send_close(1000),
    ):
        with pytest.raises(InvalidState):
            send()
    assert core.fail(1002, "late") == b""  # the close went already: nothing more
    raw = core.send_frame_unchecked(T, b"after close")
    assert [(f.opcode, f.payload) for f in frames_of(raw)] == [(T, b"after close")]


def test_fragments_keep_their_opcode_and_continue():
    core = ServerConnection()
    data = core.send_message(b"a", binary=False, end=False)
    with pytest.raises(BadOperationException):
        core.send_message(b"b", binary=True)
    data += core.send_message(b"b", binary=False, end=False) + core.send_message(b"c", binary=False)
    data += core.send_message(b"d", binary=True)
    assert [(f.opcode, f.fin, f.payload) for f in frames_of(data)] == [
        (T, 0, b"a"), (C, 0, b"b"), (C, 1, b"c"), (B, 1, b"d"),
    ]  # fmt: skip


@pytest.mark.parametrize("code", [999, 1004, 1005, 1006, 1015, 5000])
def test_unsendable_close_codes_are_refused_and_change_nothing(code):
    core = ServerConnection()
    with pytest.raises(BadOperationException):
        core.send_close(code)
    assert core.state is State.OPEN


def test_fail_sends_one_close_with_the_code_and_a_reason_that_fits():
    core = ServerConnection()
    core.receive_data(client_frame(T, b"\xff"))
    with pytest.raises(ProtocolError) as error:
        core.next_event()
    assert error.value.code == 1007
    assert core.state is State.CLOSED and core.close_sent  # the core failed itself
    (frame,) = frames_of(core.data_to_send())
    assert frame.payload[:2] == (1007).to_bytes(2, "big")
    assert core.data_to_send() == b"" and core.fail(1007) == b""  # one close, handed over once
    with pytest.raises(ConnectionTerminatedException):
        core.next_event()  # no events after a failure


def test_a_failure_reason_is_cut_to_fit_on_a_character_boundary():
    core = ServerConnection()
    (frame,) = frames_of(core.fail(1007, "é" * 100))
    assert frame.payload[:2] == (1007).to_bytes(2, "big") and len(frame.payload) <= 125
    frame.payload[2:].decode("utf-8")


@pytest.mark.parametrize(
    ("kwargs", "payload"),
    [
        ({"opcode": T}, b"\xff\xfe"),  # not UTF-8
        ({"opcode": T, "rsv2": True}, b"x"),  # a reserved bit
        ({"opcode": 0x3}, b""),  # a reserved opcode
        ({"opcode": common.OPCODE_PING, "fin": False}, b""),  # a fragmented control frame
        ({"opcode": common.OPCODE_PING}, b"x" * 126),  # an oversized control frame
        ({"opcode": common.OPCODE_CLOSE}, (1005).to_bytes(2, "big")),  # a close code nobody may send
    ],
)
def test_the_unchecked_path_emits_what_the_rules_refuse(kwargs, payload):
    core = ServerConnection()
    opcode = kwargs.pop("opcode")
    data = core.send_frame_unchecked(opcode, payload, **kwargs)
    assert data[0] & 0x0F == opcode and data.endswith(payload)
    assert core.state is State.OPEN  # no state changes
    peer = ServerConnection(require_mask=False)  # the client's view of those bytes
    peer.receive_data(data)
    with pytest.raises(ProtocolError):
        peer.next_event()


def test_masked_unchecked_frames_for_a_client_role():
    data = ServerConnection().send_frame_unchecked(B, b"payload", mask=True)
    core = ServerConnection()
    core.receive_data(data)
    assert core.next_event() == Message(B, b"payload")


class SlowConnection:
    """Writes that take a while, so a close can land in the middle of another send."""

    def __init__(self) -> None:
        self.written = bytearray()
        self.remote_addr = ("127.0.0.1", 1)

    def read(self, n: int) -> bytes:
        return b""

    def write(self, data: bytes) -> None:
        for i in range(0, len(data), 4096):
            self.written += data[i : i + 4096]
            if i % (64 * 4096) == 0:
                threading.Event().wait(0.0001)


@pytest.mark.parametrize("round_", range(20))
def test_no_frame_after_the_close_whatever_thread_closes(round_):
    request = make_request()
    request.connection = SlowConnection()
    stream = Stream(request, StreamOptions())
    start = threading.Barrier(4)

    def sender(binary: bool) -> None:
        start.wait()
        payload = b"\x00" * 300_000 if binary else "é" * 150_000
        try:
            while True:
                stream.send_message(payload, binary=binary)
                stream.send_message(payload[:10], binary=binary, end=False)
                stream.send_message(payload[:10], binary=binary)
        except BadOperationException:
            pass

    threads = [threading.Thread(target=sender, args=(i % 2 == 0,)) for i in range(3)]
    for thread in threads:
        thread.start()
    start.wait()
    threading.Event().wait(0.001 * (round_ % 5))
    stream.close_connection(1001, wait_response=False)
    for thread in threads:
        thread.join(10)
    frames = frames_of(bytes(request.connection.written))
    assert frames[-1].opcode == common.OPCODE_CLOSE
    assert sum(f.opcode == common.OPCODE_CLOSE for f in frames) == 1
    assert request.server_terminated


def test_a_close_is_not_starved_by_threads_that_send_in_a_loop():
    request = make_request()
    stream = Stream(request, StreamOptions())
    stop = threading.Event()

    def sender() -> None:
        try:
            while not stop.is_set():
                stream.send_message(b"x" * 64, binary=True)
        except BadOperationException:
            pass

    threads = [threading.Thread(target=sender) for _ in range(4)]
    for thread in threads:
        thread.start()
    threading.Event().wait(0.05)
    closer = threading.Thread(target=stream.close_connection, args=(1001,), kwargs={"wait_response": False})
    closer.start()
    closer.join(5)
    stop.set()
    alive = closer.is_alive()
    for thread in threads:
        thread.join(5)
    assert not alive, "the close waited behind the senders"
    assert frames_of(bytes(request.connection.written))[-1].opcode == common.OPCODE_CLOSE


def test_a_close_that_may_not_be_sent_leaves_the_stream_open():
    request = make_request()
    stream = Stream(request, StreamOptions())
    with pytest.raises(BadOperationException):
        stream.close_connection(1005)
    stream.send_message("still open")
    assert stream.state is State.OPEN and not request.server_terminated


def test_the_handler_thread_ends_only_after_another_threads_close_is_written():
    """The dispatcher returns (and the adapter ends the connection) only once no frame is mid-write."""
    from mod_pywebsocket.dispatch import Dispatcher

    request = make_request()
    written = threading.Event()
    release = threading.Event()

    class SlowClose(SlowConnection):
        def write(self, data: bytes) -> None:
            if data[:1] == b"\x88":
                release.wait(5)  # the close frame takes its time to go out
            super().write(data)
            written.set()

    request.connection = SlowClose()
    stream = Stream(request, StreamOptions())
    request.ws_stream = stream

    class Suite:
        path = "suite"

        @staticmethod
        def transfer_data(req):
            closer = threading.Thread(target=stream.close_connection, args=(1001,), kwargs={"wait_response": False})
            closer.start()
            while not req.server_terminated:  # the other thread's close has started
                threading.Event().wait(0.001)

    request._handler_suite = Suite
    done = threading.Event()
    dispatcher = Dispatcher.__new__(Dispatcher)  # no handler folder: the suite is already chosen
    runner = threading.Thread(target=lambda: (dispatcher.transfer_data(request), done.set()))
    runner.start()
    threading.Event().wait(0.1)
    assert not done.is_set(), "transfer_data returned while the close frame was still being written"
    release.set()
    runner.join(5)
    assert done.is_set() and written.is_set()
    assert frames_of(bytes(request.connection.written))[-1].opcode == common.OPCODE_CLOSE
