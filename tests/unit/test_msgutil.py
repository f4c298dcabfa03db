import threading

from mod_pywebsocket import common, msgutil
from mod_pywebsocket.stream import Stream

from .fakes import client_frame, close_frame, make_request


def request_with(incoming: bytes):
    request = make_request(incoming)
    request.ws_stream = Stream(request)
    return request


def test_helpers_wrap_the_stream():
    request = request_with(client_frame(common.OPCODE_TEXT, b"hi") + close_frame(1000))
    assert msgutil.receive_message(request) == "hi"
    msgutil.send_message(request, b"\x01", binary=True)
    msgutil.send_ping(request, "p")
    assert msgutil.receive_message(request) is None
    msgutil.close_connection(request)  # already closed: no-op
    assert [f.opcode for f in request.connection.frames()] == [
        common.OPCODE_BINARY,
        common.OPCODE_PING,
        common.OPCODE_CLOSE,
    ]


def test_message_receiver_queues_until_close():
    request = request_with(
        client_frame(common.OPCODE_TEXT, b"a") + client_frame(common.OPCODE_BINARY, b"b") + close_frame(1000)
    )
    receiver = msgutil.MessageReceiver(request)
    assert receiver.receive() == "a"
    assert receiver.receive() == b"b"
    assert receiver.receive() is None
    receiver.join(5)
    assert not receiver.is_alive()
    assert receiver.receive_nowait() is None


def test_message_receiver_with_callback():
    request = request_with(client_frame(common.OPCODE_TEXT, b"x") + close_frame(1000))
    seen = []
    done = threading.Event()

    def onmessage(message):
        seen.append(message)
        if message is None:
            done.set()

    msgutil.MessageReceiver(request, onmessage)
    assert done.wait(5)
    assert seen == ["x", None]


def test_message_sender():
    request = request_with(b"")
    sender = msgutil.MessageSender(request)
    sender.send("one")
    sender.send_nowait("two")
    sender.send("three")  # queued after "two", so both are on the wire when it returns
    payloads = [f.payload for f in request.connection.frames()]
    assert payloads == [b"one", b"two", b"three"]
