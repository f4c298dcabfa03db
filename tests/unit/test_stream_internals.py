"""pywebsocket3's underscored Stream methods (runtime.stream_internals) on a fake connection:
what browser vendors' handlers call, with pywebsocket3's results."""

from __future__ import annotations

import zlib

import pytest

from mod_pywebsocket import common, util
from mod_pywebsocket.core.errors import BadOperationException, InvalidFrameException
from mod_pywebsocket.extensions import ExtensionProcessorInterface, PerMessageDeflateExtensionProcessor
from mod_pywebsocket.runtime import compat
from mod_pywebsocket.stream import Frame, Stream, StreamOptions

from .fakes import client_frame, close_frame, make_request

TEXT, BINARY, CLOSE, PING, PONG, CONT = 1, 2, 8, 9, 10, 0


def stream_of(data: bytes, options: StreamOptions | None = None, chunk: int = 1 << 20):
    request = make_request(data, chunk=chunk)
    return request, Stream(request, options)


@pytest.fixture
def pywebsocket3_profile():
    compat.configure("pywebsocket3")
    yield
    compat.configure("rfc")


def test_receive_frame_gives_the_frame_as_it_came():
    request, stream = stream_of(client_frame(PONG, b"probe") + client_frame(TEXT, b"ab", fin=False))
    assert stream._receive_frame() == (PONG, b"probe", 1, 0, 0, 0)
    frame = stream._receive_frame_as_frame_object()
    assert (frame.opcode, frame.payload, frame.fin) == (TEXT, b"ab", 0)


def test_receive_frame_hands_over_reserved_bits_and_opcodes():
    """pywebsocket3's parser checked only the mask: the handler judges the rest."""
    data = bytearray(client_frame(TEXT, b"x"))
    data[0] |= 0x30  # RSV2 and RSV3
    request, stream = stream_of(bytes(data) + client_frame(0x0B, b"y"))
    assert stream._receive_frame() == (TEXT, b"x", 1, 0, 1, 1)
    assert stream._receive_frame()[0] == 0x0B


def test_receive_frame_still_requires_the_mask():
    from mod_pywebsocket.core.frames import build_frame

    request, stream = stream_of(build_frame(TEXT, b"x"))
    with pytest.raises(InvalidFrameException):
        stream._receive_frame()
    assert stream._core.close_sent  # failed with 1002, as receive_message would


def test_get_message_from_frame_assembles_as_pywebsocket3():
    request, stream = stream_of(b"")
    assert stream._get_message_from_frame(Frame(0, 0, 0, 0, TEXT, b"he")) is None
    assert stream._get_message_from_frame(Frame(1, 0, 0, 0, CONT, b"llo")) == b"hello"
    assert stream.get_last_received_opcode() == TEXT
    assert stream._get_message_from_frame(Frame(1, 0, 0, 0, PING, b"p")) == b"p"
    assert stream.get_last_received_opcode() == PING


@pytest.mark.parametrize(
    "frames",
    [
        [Frame(1, 0, 0, 0, CONT, b"x")],  # nothing to continue
        [Frame(0, 0, 0, 0, TEXT, b"x"), Frame(1, 0, 0, 0, TEXT, b"y")],  # a new message inside one
        [Frame(0, 0, 0, 0, PING, b"x")],  # a fragmented control frame
    ],
)
def test_get_message_from_frame_fails_with_1002(frames):
    request, stream = stream_of(b"")
    with pytest.raises(InvalidFrameException):
        for frame in frames:
            stream._get_message_from_frame(frame)
    assert request.connection.frames()[-1].payload[:2] == (1002).to_bytes(2, "big")


def test_process_close_message_records_and_answers():
    request, stream = stream_of(b"")
    stream._process_close_message((4001).to_bytes(2, "big") + b"bye")
    assert (request.ws_close_code, request.ws_close_reason) == (4001, "bye")
    assert request.client_terminated and request.server_terminated
    assert request.connection.frames()[-1].payload == (4001).to_bytes(2, "big")  # rfc: echoed
    with pytest.raises(BadOperationException):
        stream.send_message(None)  # the close state is checked first, whatever the message


def test_process_close_message_answers_1000_under_pywebsocket3s_profile(pywebsocket3_profile):
    request, stream = stream_of(b"")
    stream._process_close_message((999).to_bytes(2, "big") + b"\xff")  # pywebsocket3 took any code
    assert (request.ws_close_code, request.ws_close_reason) == (999, "\ufffd")
    assert request.connection.frames()[-1].payload == (1000).to_bytes(2, "big")


def test_control_message_processors_answer_pings_and_match_pongs():
    request, stream = stream_of(b"")
    stream.send_ping("hi")
    stream._process_pong_message(b"hi")
    assert not stream._ping_queue
    stream._process_ping_message(b"ping")
    stream._send_pong(b"extra")
    stream._send_closing_handshake(1001, "going")
    assert [(f.opcode, f.payload) for f in request.connection.frames()] == [
        (PING, b"hi"),
        (PONG, b"ping"),
        (PONG, b"extra"),
        (CLOSE, (1001).to_bytes(2, "big") + b"going"),
    ]


def test_read_takes_what_the_stream_read_ahead_first():
    request, stream = stream_of(client_frame(TEXT, b"one") + b"RAW\nrest")
    assert stream.receive_message() == "one"
    assert stream._read_until(b"\n") == b"RAW"
    assert stream._read(10) == b"rest"


def test_receive_filtered_frame_inflates():
    compressor = zlib.compressobj(wbits=-15)
    body = (compressor.compress(b"deflated") + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4]
    processor = PerMessageDeflateExtensionProcessor(common.ExtensionParameter("permessage-deflate"))
    assert processor.get_extension_response() is not None
    request = make_request(client_frame(TEXT, body, rsv1=True))
    stream = Stream(request, StreamOptions(), processor.codec())
    frame = stream.receive_filtered_frame()
    assert (frame.opcode, frame.payload, frame.rsv1) == (TEXT, b"deflated", 0)


def test_writer_and_write():
    request, stream = stream_of(b"")
    stream._write(stream._writer.build("part", end=False, binary=False))
    stream._write(stream._writer.build("ial", end=True, binary=False))
    assert [(f.opcode, f.fin, f.payload) for f in request.connection.frames()] == [
        (TEXT, 0, b"part"),
        (CONT, 1, b"ial"),
    ]


def test_inflater_of_util_reads_a_manual_deflate_message():
    compressor = zlib.compressobj(wbits=-15)
    body = compressor.compress(b"by hand") + compressor.flush(zlib.Z_SYNC_FLUSH)
    inflater = util._Inflater(15)
    inflater.append(body)
    assert inflater.decompress(-1) == b"by hand"


class _Reverse:
    def filter(self, message, end=True, binary=False):
        return message[::-1]


class _Tag:
    def filter(self, frame):
        frame.rsv3 = 1


class _Untag:
    def filter(self, frame):
        frame.rsv3 = 0


class ReverseProcessor(ExtensionProcessorInterface):
    def name(self):
        return "x-reverse"

    def _get_extension_response_internal(self):
        return common.ExtensionParameter("x-reverse")

    def _setup_stream_options_internal(self, options):
        options.incoming_message_filters.append(_Reverse())
        options.outgoing_message_filters.append(_Reverse())
        options.incoming_frame_filters.append(_Untag())
        options.outgoing_frame_filters.append(_Tag())


def test_an_extension_processor_of_the_handlers_own_filters_both_ways():
    data = bytearray(client_frame(BINARY, b"abc"))
    data[0] |= 0x10  # RSV3, which the processor's incoming frame filter takes off
    options = StreamOptions()
    processor = ReverseProcessor(common.ExtensionParameter("x-reverse"))
    assert processor.get_extension_response().name() == "x-reverse"
    processor.setup_stream_options(options)
    request = make_request(bytes(data) + close_frame(None))  # empty: the reversing filter keeps it
    stream = Stream(request, options)
    assert stream.receive_message() == b"cba"
    stream.send_message(b"xyz", binary=True)
    assert stream.receive_message() is None
    raw = bytes(request.connection.written)
    assert raw[:5] == bytes((0x80 | 0x10 | BINARY, 3)) + b"zyx"  # filtered, then tagged RSV3


def test_a_declined_processor_is_deactivated():
    processor = ExtensionProcessorInterface(common.ExtensionParameter("x-none"))
    assert processor.get_extension_response() is None and not processor.is_active()
