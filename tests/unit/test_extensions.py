import os
import zlib

import pytest

from mod_pywebsocket import common
from mod_pywebsocket.core.errors import InvalidFrameException, MessageTooBigException
from mod_pywebsocket.extensions import PerMessageDeflate, PerMessageDeflateExtensionProcessor, negotiate
from mod_pywebsocket.stream import Stream, StreamOptions

from .fakes import client_frame, close_frame, make_request


def offer(text: str):
    return [PerMessageDeflateExtensionProcessor(e) for e in common.parse_extensions(text)]


@pytest.mark.parametrize(
    "offered, response",
    [
        ("permessage-deflate", "permessage-deflate"),
        ("permessage-deflate; client_max_window_bits", "permessage-deflate"),
        ("permessage-deflate; client_max_window_bits=10", "permessage-deflate"),
        ("permessage-deflate; server_no_context_takeover", "permessage-deflate; server_no_context_takeover"),
        ("permessage-deflate; client_no_context_takeover", "permessage-deflate; client_no_context_takeover"),
        ("permessage-deflate; server_max_window_bits=9", "permessage-deflate; server_max_window_bits=9"),
        # parameters in pywebsocket3's order, whatever the offer's
        (
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=15",
            "permessage-deflate; server_max_window_bits=15; server_no_context_takeover",
        ),
        # invalid offers are declined; the next acceptable one wins
        ("permessage-deflate; foo, permessage-deflate", "permessage-deflate"),
        ("permessage-deflate; server_max_window_bits=8, permessage-deflate", "permessage-deflate"),
        ("permessage-deflate; server_max_window_bits", None),
        ("permessage-deflate; server_max_window_bits=16", None),
        ("permessage-deflate; server_max_window_bits=010", None),
        ("permessage-deflate; client_max_window_bits=7", None),
        ("permessage-deflate; server_no_context_takeover=1", None),
        ("permessage-deflate; server_no_context_takeover; server_no_context_takeover", None),
    ],
)
def test_negotiation(offered, response):
    accepted, processor = negotiate(offer(offered))
    if response is None:
        assert accepted is None and processor is None
    else:
        assert common.format_extensions(accepted) == response and processor.codec() is not None


def test_handler_controls():
    processors = offer("permessage-deflate; client_max_window_bits")
    processors[0].set_client_max_window_bits(10)
    processors[0].set_client_no_context_takeover(True)
    accepted, _ = negotiate(processors)
    assert common.format_extensions(accepted) == (
        "permessage-deflate; client_max_window_bits=10; client_no_context_takeover"
    )
    processors = offer("permessage-deflate")
    processors[0].set_client_max_window_bits(10)  # the client did not offer to limit its window
    assert negotiate(processors) == (None, None)
    processors = offer("permessage-deflate")
    processors[0].set_active(False)
    assert negotiate(processors) == (None, None)
    assert negotiate([None]) == (None, None)


@pytest.mark.parametrize("no_context", [False, True])
def test_codec_round_trip_and_context(no_context):
    sender = PerMessageDeflate(server_no_context_takeover=no_context)
    receiver = PerMessageDeflate(client_no_context_takeover=no_context)
    sizes = []
    for message in (b"", b"hello hello hello", b"hello hello hello", os.urandom(70000), b"x" * 100000):
        wire = sender.compress(message)
        sizes.append(len(wire))
        assert receiver.decompress(wire, True, None) == message
    assert (sizes[2] < sizes[1]) == (not no_context)  # context takeover shrinks a repeated message


def test_fragmented_compression_round_trip():
    sender, receiver = PerMessageDeflate(), PerMessageDeflate()
    parts = [sender.compress(b"abc" * 100, final=False), sender.compress(b"def" * 100, final=True)]
    out = receiver.decompress(parts[0], False, None) + receiver.decompress(parts[1], True, None)
    assert out == b"abc" * 100 + b"def" * 100


def raw_deflate(data: bytes) -> bytes:
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    return (c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH))[:-4]


def stream_with_deflate(incoming: bytes, max_message_size=1 << 20):
    request = make_request(incoming)
    request.ws_stream = Stream(request, StreamOptions(max_message_size=max_message_size), PerMessageDeflate())
    return request, request.ws_stream


def test_stream_inflates_compressed_messages_and_compresses_replies():
    data = raw_deflate("héllo".encode())
    incoming = (
        client_frame(common.OPCODE_TEXT, data, rsv1=True)
        + client_frame(common.OPCODE_BINARY, b"plain")  # uncompressed messages stay allowed
        + client_frame(common.OPCODE_TEXT, data[:2], fin=False, rsv1=True)
        + client_frame(common.OPCODE_CONTINUATION, data[2:])
    )
    request, stream = stream_with_deflate(incoming)
    assert stream.receive_message() == "héllo"
    assert stream.receive_message() == b"plain"
    assert stream.receive_message() == "héllo"
    stream.send_message("reply " * 50)
    frame = request.connection.frames()[0]
    assert frame.rsv1 == 1 and len(frame.payload) < 300
    assert zlib.decompressobj(-15).decompress(frame.payload + b"\x00\x00\xff\xff") == ("reply " * 50).encode()


def test_deflate_bomb_is_1009():
    bomb = raw_deflate(b"\x00" * (4 << 20))  # ~4 KiB on the wire, 4 MiB inflated
    request, stream = stream_with_deflate(client_frame(common.OPCODE_BINARY, bomb, rsv1=True))
    with pytest.raises(MessageTooBigException):
        stream.receive_message()
    close = request.connection.frames()[-1]
    assert int.from_bytes(close.payload[:2], "big") == 1009


def test_rsv1_on_continuation_or_control_is_1002():
    for incoming in (
        client_frame(common.OPCODE_TEXT, b"a", fin=False) + client_frame(common.OPCODE_CONTINUATION, b"b", rsv1=True),
        client_frame(common.OPCODE_PING, b"", rsv1=True),
    ):
        request, stream = stream_with_deflate(incoming + close_frame())
        with pytest.raises(InvalidFrameException):
            stream.receive_message()
        close = request.connection.frames()[-1]
        assert int.from_bytes(close.payload[:2], "big") == 1002
