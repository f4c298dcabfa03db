"""Text is checked as its bytes arrive, not when its frame ends (RFC 6455 8.1).

Autobahn 6.4.3 and 6.4.4 send a text frame whose payload turns invalid early and hold
the rest of the frame back: the connection must fail (1007) on the bytes that make the
text invalid. These tests feed the connection core one piece at a time and check on
which piece it fails.
"""

from __future__ import annotations

import codecs
import os
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mod_pywebsocket import common
from mod_pywebsocket.core.connection import ServerConnection
from mod_pywebsocket.core.errors import ProtocolError
from mod_pywebsocket.core.frames import LARGE_PAYLOAD, build_frame
from mod_pywebsocket.core.messages import Message
from mod_pywebsocket.extensions import PerMessageDeflate

INVALID = common.STATUS_INVALID_FRAME_PAYLOAD_DATA


def failing_piece(pieces: list[bytes], **options) -> int | None:
    """The index of the piece on which the core failed with 1007 (None: it did not fail)."""
    core = ServerConnection(**options)
    for i, piece in enumerate(pieces):
        core.receive_data(piece)
        try:
            while core.next_event() is not None:
                pass
        except ProtocolError as e:
            assert e.code == INVALID
            return i
    return None


def first_invalid_prefix(payload: bytes) -> int | None:
    """The length of the shortest prefix of ``payload`` no UTF-8 text can start with."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    for n in range(len(payload)):
        try:
            decoder.decode(payload[n : n + 1], False)
        except UnicodeDecodeError:
            return n + 1
    return None


def bytewise(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


HEADER = 6  # a masked frame of under 126 bytes: 2 bytes of header and the 4-byte key


@pytest.mark.parametrize("bad", [b"\xf4\x90\x80\x80", b"\xc0\xaf", b"\xed\xa0\x80", b"\xff"])
def test_a_frame_fails_on_the_byte_that_makes_it_invalid(bad):
    """Autobahn 6.4.4: the frame arrives byte by byte; the failure comes on the bad byte."""
    payload = "κόσμε".encode() + bad + b"edited"
    pieces = bytewise(build_frame(common.OPCODE_TEXT, payload, mask=True))
    bad_at = first_invalid_prefix(payload)
    assert bad_at is not None
    assert failing_piece(pieces) == HEADER + bad_at - 1


def test_the_rest_of_the_frame_is_not_waited_for():
    """Autobahn 6.4.3: three pieces of one frame, the second holding the invalid bytes."""
    frame = build_frame(common.OPCODE_TEXT, "κόσμε".encode() + b"\xf4\x90\x80\x80" + b"edited", mask=True)
    pieces = [frame[:8], frame[8:-6], frame[-6:]]
    assert failing_piece(pieces) == 1


def test_across_frames_the_check_goes_on_from_the_last_frame():
    """A sequence begun in one frame (\\xe2) and broken in the next (\\x82 then \\xf4 is not
    \\xe2 \\x82 \\xac): the continuation fails on its second byte, before it ends."""
    first = build_frame(common.OPCODE_TEXT, b"ab\xe2", fin=False, mask=True)
    second = build_frame(common.OPCODE_CONTINUATION, b"\x82\xf4 and a lot more", mask=True)
    assert failing_piece([first, *bytewise(second)]) == 1 + HEADER + 1


def test_a_sequence_split_across_frames_is_valid():
    first = build_frame(common.OPCODE_TEXT, b"ab\xe2", fin=False, mask=True)
    second = build_frame(common.OPCODE_CONTINUATION, b"\x82\xac!", mask=True)
    core = ServerConnection()
    events = []
    for piece in [first, *bytewise(second)]:
        core.receive_data(piece)
        while (event := core.next_event()) is not None:
            events.append(event)
    assert events == [Message(common.OPCODE_TEXT, "ab€!")]


def test_a_large_frame_is_checked_while_it_is_gathered():
    """Frames of LARGE_PAYLOAD bytes or more are gathered apart (frames.LARGE_PAYLOAD):
    they are checked as they come too."""
    payload = b"a" * 1000 + b"\xff" + b"b" * LARGE_PAYLOAD
    frame = build_frame(common.OPCODE_TEXT, payload, mask=True)
    pieces = [frame[i : i + 4096] for i in range(0, len(frame), 4096)]
    assert failing_piece(pieces, max_message_size=2 * LARGE_PAYLOAD) == 0


def test_binary_frames_are_not_checked():
    frame = build_frame(common.OPCODE_BINARY, b"\xff" * 300, mask=True)
    assert failing_piece(bytewise(frame)) is None


def test_compressed_text_is_checked_as_it_inflates():
    """With permessage-deflate, what the part that has arrived inflates to is checked."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    text = b"valid " + b"\xf4\x90\x80\x80" + os.urandom(50_000).hex().encode()
    data = compressor.compress(text) + compressor.flush(zlib.Z_SYNC_FLUSH)
    frame = build_frame(common.OPCODE_TEXT, data[:-4], rsv1=True, mask=True)
    pieces = [frame[i : i + 512] for i in range(0, len(frame), 512)]
    failed_on = failing_piece(pieces, deflate=PerMessageDeflate())
    assert failed_on is not None and failed_on < len(pieces) - 1


def test_compressed_valid_text_in_pieces_is_one_message():
    codec = PerMessageDeflate()
    text = "héllo wörld € " * 2000
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    data = compressor.compress(text.encode()) + compressor.flush(zlib.Z_SYNC_FLUSH)
    frame = build_frame(common.OPCODE_TEXT, data[:-4], rsv1=True, mask=True)
    core = ServerConnection(deflate=codec)
    events = []
    for i in range(0, len(frame), 100):
        core.receive_data(frame[i : i + 100])
        while (event := core.next_event()) is not None:
            events.append(event)
    assert events == [Message(common.OPCODE_TEXT, text)]


@given(st.binary(min_size=1, max_size=200), st.text(max_size=40))
def test_any_payload_fails_exactly_where_it_turns_invalid(tail, head):
    """Byte by byte, the core fails on the first byte no valid text could follow with,
    and an incomplete but valid end fails only when the frame ends."""
    payload = head.encode() + tail
    frame = build_frame(common.OPCODE_TEXT, payload, mask=True)
    pieces = bytewise(frame)
    bad_at = first_invalid_prefix(payload)
    failed_on = failing_piece(pieces)
    if bad_at is not None:
        assert failed_on == len(frame) - len(payload) + bad_at - 1
        return
    try:
        payload.decode("utf-8")
    except UnicodeDecodeError:
        assert failed_on == len(pieces) - 1  # a sequence the frame's end cuts short
    else:
        assert failed_on is None


@pytest.mark.parametrize("size", [200_000, LARGE_PAYLOAD + 500_000])
def test_text_checked_as_it_arrives_is_the_same_message(size):
    """Below KEEP_DECODED_BELOW what was decoded is kept, above it the frame is decoded
    again whole; either way the message is the text that was sent, cut anywhere."""
    text = ("héllo wörld € 😀 " * (size // 20))[: size // 2]
    frame = build_frame(common.OPCODE_TEXT, text.encode(), mask=True)
    core = ServerConnection(max_message_size=4 * LARGE_PAYLOAD)
    events = []
    for i in range(0, len(frame), 65_521):  # a prime: pieces end inside characters
        core.receive_data(frame[i : i + 65_521])
        while (event := core.next_event()) is not None:
            events.append(event)
    assert events == [Message(common.OPCODE_TEXT, text)]
