"""Assembling a fragmented binary message holds it about once, not twice."""

from __future__ import annotations

import tracemalloc

from mod_pywebsocket.core import constants
from mod_pywebsocket.core.frames import Frame
from mod_pywebsocket.core.messages import Message, MessageAssembler

MIB = 1 << 20


def _assemble(fragments: int, size: int) -> tuple[Message, int]:
    assembler = MessageAssembler(max_message_size=64 * MIB)
    tracemalloc.start()
    try:
        event = None
        for i in range(fragments):
            opcode = constants.OPCODE_BINARY if i == 0 else constants.OPCODE_CONTINUATION
            payload = bytes([i % 251]) * size  # made here, dropped after: one fragment at a time
            event = assembler.process(Frame(fin=int(i == fragments - 1), opcode=opcode, payload=payload))
            del payload
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert isinstance(event, Message)
    return event, peak


def test_a_fragmented_binary_message_costs_at_most_about_1_1_times_its_size():
    message, peak = _assemble(32, MIB // 4)  # 8 MiB from 256 KiB fragments
    size = 32 * (MIB // 4)
    assert isinstance(message.data, bytes) and len(message.data) == size
    assert message.data[: MIB // 4] == bytes([0]) * (MIB // 4) and message.data[-1] == 31
    assert peak <= 1.15 * size + MIB // 4, f"peak {peak / size:.2f}x the message"


def test_a_one_frame_message_is_not_copied():
    assembler = MessageAssembler()
    payload = b"x" * 1000
    event = assembler.process(Frame(fin=1, opcode=constants.OPCODE_BINARY, payload=payload))
    assert isinstance(event, Message) and event.data is payload
