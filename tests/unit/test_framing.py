import os

import pytest

from mod_pywebsocket import common
from mod_pywebsocket.errors import ProtocolError
from mod_pywebsocket.framing import FrameParser, apply_mask, build_frame, create_length_header


def naive_mask(data, mask):
    return bytes(b ^ mask[i % 4] for i, b in enumerate(data))


@pytest.mark.parametrize("n", [0, 1, 3, 4, 5, 125, 126, 65535, 65536, 100003])
def test_apply_mask_matches_the_definition(n):
    data = os.urandom(n)
    mask = os.urandom(4)
    assert apply_mask(data, mask) == naive_mask(data, mask)
    assert apply_mask(apply_mask(data, mask), mask) == data


@pytest.mark.parametrize(
    "n, header", [(0, b"\x00"), (125, b"\x7d"), (126, b"\x7e\x00\x7e"), (65536, b"\x7f" + (65536).to_bytes(8, "big"))]
)
def test_length_header_encodings(n, header):
    assert create_length_header(n, False) == header


@pytest.mark.parametrize("n", [0, 125, 126, 65535, 65536])
def test_parse_round_trip_in_any_split(n):
    payload = os.urandom(n)
    wire = build_frame(common.OPCODE_BINARY, payload, mask=True)
    for split in (1, 2, 5, 11, len(wire)):
        parser = FrameParser()
        frames = []
        for i in range(0, len(wire), split):
            parser.feed(wire[i : i + split])
            while (frame := parser.next_frame()) is not None:
                frames.append(frame)
        assert len(frames) == 1 and frames[0].payload == payload and frames[0].fin == 1


def test_oversized_frame_is_refused_on_its_header():
    parser = FrameParser(max_payload=1000)
    parser.feed(b"\x82\xff" + (1 << 40).to_bytes(8, "big"))
    with pytest.raises(ProtocolError) as info:
        parser.next_frame()
    assert info.value.code == 1009


def test_length_with_top_bit_is_1002():
    parser = FrameParser()
    parser.feed(b"\x82\xff" + (1 << 63).to_bytes(8, "big"))
    with pytest.raises(ProtocolError) as info:
        parser.next_frame()
    assert info.value.code == 1002


def test_rsv1_allowed_only_when_negotiated():
    wire = build_frame(common.OPCODE_TEXT, b"x", rsv1=True, mask=True)
    parser = FrameParser()
    parser.feed(wire)
    with pytest.raises(ProtocolError):
        parser.next_frame()
    parser = FrameParser()
    parser.allow_rsv1 = True
    parser.feed(wire)
    assert parser.next_frame().rsv1 == 1
