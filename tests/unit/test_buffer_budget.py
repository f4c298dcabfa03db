"""The process's budget for message data (WS_MAX_BUFFERED): reservations, 1009, the log."""

from __future__ import annotations

import logging
import threading

import pytest

from mod_pywebsocket import common
from mod_pywebsocket.core.errors import MessageTooBigException
from mod_pywebsocket.runtime import settings
from mod_pywebsocket.runtime.blocking_stream import UNCOUNTED_MESSAGE_BYTES
from mod_pywebsocket.runtime.capacity import BufferBudget
from mod_pywebsocket.stream import Stream, StreamOptions

from .fakes import client_frame, close_frame, make_request

MIB = 1 << 20
B, C = common.OPCODE_BINARY, common.OPCODE_CONTINUATION


def stream_for(data: bytes, budget: BufferBudget):
    request = make_request(data)
    request.ws_stream = Stream(request, StreamOptions(buffer_budget=budget))
    return request, request.ws_stream


def test_a_message_holds_its_size_until_the_handler_asks_for_the_next():
    budget = BufferBudget(10 * MIB, "WS_MAX_BUFFERED")
    request, stream = stream_for(client_frame(B, b"a" * (3 * MIB)) + close_frame(), budget)
    assert stream.receive_message() == b"a" * (3 * MIB)
    assert budget.used == 3 * MIB  # the handler may still be echoing it
    assert stream.receive_message() is None
    assert budget.used == 0


def test_small_messages_take_nothing():
    budget = BufferBudget(1, "WS_MAX_BUFFERED")
    data = client_frame(B, b"s" * UNCOUNTED_MESSAGE_BYTES) + close_frame()
    request, stream = stream_for(data, budget)
    assert stream.receive_message() == b"s" * UNCOUNTED_MESSAGE_BYTES and budget.used == 0


def test_a_fragmented_message_reserves_as_it_grows():
    budget = BufferBudget(5 * MIB, "WS_MAX_BUFFERED")
    data = b"".join(client_frame(B if i == 0 else C, b"f" * MIB, fin=i == 3) for i in range(4)) + close_frame()
    request, stream = stream_for(data, budget)
    assert stream.receive_message() == b"f" * (4 * MIB) and budget.used == 4 * MIB
    stream.release_buffers()
    assert budget.used == 0


def test_the_message_that_would_pass_the_budget_gets_1009_and_the_others_go_on(caplog):
    budget = BufferBudget(5 * MIB, "WS_MAX_BUFFERED")
    _, first = stream_for(client_frame(B, b"1" * (3 * MIB)), budget)
    request, second = stream_for(client_frame(B, b"2" * (3 * MIB)), budget)
    assert first.receive_message() == b"1" * (3 * MIB)
    with caplog.at_level(logging.WARNING, "mod_pywebsocket.capacity"):
        with pytest.raises(MessageTooBigException, match="buffer budget"):
            second.receive_message()
    close = request.connection.frames()[-1]
    assert close.opcode == common.OPCODE_CLOSE and int.from_bytes(close.payload[:2], "big") == 1009
    assert len(request.connection.incoming) > 2 * MIB, "refused before its payload was read"
    assert budget.used == 3 * MIB  # the first keeps its message
    assert ["raise WS_MAX_BUFFERED" in r.getMessage() for r in caplog.records] == [True]


def test_racing_connections_never_hold_more_than_the_budget():
    budget = BufferBudget(8 * MIB, "WS_MAX_BUFFERED")
    peak = [0]
    outcomes: list[str] = []

    def connection() -> None:
        _, stream = stream_for(client_frame(B, b"r" * (3 * MIB)) * 3 + close_frame(), budget)
        try:
            while stream.receive_message() is not None:
                peak[0] = max(peak[0], budget.used)
            outcomes.append("served")
        except MessageTooBigException:
            outcomes.append("1009")

    threads = [threading.Thread(target=connection) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(outcomes) == 12 and "1009" in outcomes and "served" in outcomes
    assert peak[0] <= 8 * MIB and budget.used == 0


# -- the setting ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, value", [("1048576", MIB), ("64M", 64 * MIB), ("512k", 512 * 1024), ("1G", 1024 * MIB), ("2MiB", 2 * MIB)]
)
def test_sizes_take_binary_units(text, value):
    assert settings.parse_size(text) == value


@pytest.mark.parametrize("text", ["0", "-1", "lots", "1T", "1.5M"])
def test_bad_sizes_are_refused(text):
    with pytest.raises(ValueError):
        settings.parse_size(text)


def test_the_default_is_a_quarter_of_the_memory_limit(tmp_path):
    v2, v1 = tmp_path / "memory.max", tmp_path / "memory.limit_in_bytes"
    v2.write_text("536870912\n")
    assert settings.memory_limit((str(v2),)) == 512 * MIB
    assert settings.default_max_buffered(1, 512 * MIB) == 128 * MIB
    assert settings.default_max_buffered(2, 512 * MIB) == 64 * MIB  # shared by the processes
    v2.write_text("max\n")
    v1.write_text("9223372036854771712\n")  # cgroup v1 without a limit
    assert settings.memory_limit((str(v2),)) is None
    assert settings.memory_limit((str(tmp_path / "absent"), str(v1))) is None
    assert settings.default_max_buffered(1, None) == settings.FALLBACK_MAX_BUFFERED == 1024 * MIB


def test_the_environment_derives_it_and_apache_gets_it():
    values = settings.from_environment({"WS_MAX_BUFFERED": "300M"})
    assert settings.shell_environment(values)["WS_MAX_BUFFERED"] == str(300 * MIB)
    derived = settings.from_environment({})["max_buffered"]
    assert derived == settings.default_max_buffered(1, settings.memory_limit())
