import os
import subprocess
import sys
from pathlib import Path

import pytest

from mod_pywebsocket import common
from mod_pywebsocket.core import frames as framing
from mod_pywebsocket.core.errors import ProtocolError
from mod_pywebsocket.core.frames import FrameParser, build_frame, create_length_header

ROOT = Path(__file__).resolve().parents[2]


def naive_mask(data, mask):
    return bytes(b ^ mask[i % 4] for i, b in enumerate(data))


# Both implementations, whichever the server would pick: the C accelerator when built.
IMPLEMENTATIONS = [framing.apply_mask_python] + ([framing.apply_mask_c] if framing.apply_mask_c else [])


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("n", [0, 1, 3, 4, 5, 7, 8, 9, 125, 126, 65535, 65536, 65537, 100003])
def test_apply_mask_matches_the_definition(implementation, n):
    data = os.urandom(n)
    mask = os.urandom(4)
    assert implementation(data, mask) == naive_mask(data, mask)
    assert implementation(implementation(data, mask), mask) == data
    assert implementation(bytearray(data), mask) == implementation(memoryview(data), mask) == naive_mask(data, mask)


def test_the_c_accelerator_is_used_when_built_and_can_be_turned_off():
    code = "from mod_pywebsocket.core import frames; print(frames.apply_mask is frames.apply_mask_python)"
    env = dict(os.environ, MOD_PYWEBSOCKET_NO_SPEEDUPS="1")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=ROOT)
    assert out.stdout.strip() == "True"
    if framing.apply_mask_c is not None:
        assert framing.apply_mask is framing.apply_mask_c
        with pytest.raises(ValueError):
            framing.apply_mask_c(b"abc", b"12")


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


def test_needed_asks_for_the_next_step_of_the_frame_and_no_more():
    frame = build_frame(common.OPCODE_BINARY, b"z" * 70_000, mask=True)  # 2 + 8 + 4 + 70,000 bytes
    parser = FrameParser()
    steps = []
    while parser.next_frame() is None:
        n = parser.needed()
        steps.append(n)
        parser.feed(frame[parser.buffered() : parser.buffered() + n])
    assert steps == [2, 8, 4 + 70_000] and parser.buffered() == 0
    parser.feed(build_frame(common.OPCODE_TEXT, b"hi", mask=True)[:1])
    assert parser.needed() == 1
