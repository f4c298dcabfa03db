"""``client_conformance.session.LiveSession`` over a fake connection: the suite's closing rules,
timed waits, protocol errors and verdicts, with a client made of this package's own core."""

from __future__ import annotations

import threading
import time

from mod_pywebsocket.client_conformance.case import Case, ExpectedClose
from mod_pywebsocket.client_conformance.session import LiveSession
from mod_pywebsocket.core.connection import ServerConnection
from mod_pywebsocket.core.errors import ProtocolError
from mod_pywebsocket.core.frames import build_frame
from mod_pywebsocket.core.messages import Close, Control, Message


class FakeClient:
    """A connection whose far end is a client: ``echo`` messages back, answer pings and closes."""

    def __init__(self, echo: bool = True, answer_close: bool = True, first: bytes = b"") -> None:
        self.core = ServerConnection(require_mask=False, mask_send=True, max_message_size=None)
        self.echo = echo
        self.answer_close = answer_close
        self.inbox = bytearray(first)
        self.closed = False
        self.timeout: float | None = None
        self.written = bytearray()
        self._lock = threading.Lock()

    def set_read_timeout(self, seconds: float | None) -> None:
        self.timeout = seconds

    def read(self, n: int) -> bytes:
        with self._lock:
            if self.inbox:
                data = bytes(self.inbox[:n])
                del self.inbox[:n]
                return data
            if self.closed:
                return b""
        time.sleep(min(self.timeout or 0.01, 0.01))
        raise TimeoutError

    def write(self, data: bytes) -> None:
        self.written += data
        if self.core.failed:
            return  # a client that failed the connection reads no more
        self.core.receive_data(bytes(data))
        while True:
            try:
                event = self.core.next_event()
            except ProtocolError:
                self.inbox += self.core.data_to_send()
                return
            if event is None:
                return
            if isinstance(event, Message) and self.echo:
                payload = event.data.encode() if isinstance(event.data, str) else event.data
                self.inbox += self.core.send_message(payload, binary=not isinstance(event.data, str))
            elif isinstance(event, Control) and event.opcode == 0x9:
                self.inbox += self.core.send_pong(event.payload)
            elif isinstance(event, Close) and self.answer_close and not self.core.close_sent:
                self.inbox += self.core.send_close(event.code if event.code != 1005 else None)
                self.closed = True


def case(script, timeout: float = 5.0) -> Case:
    return Case("1.1.1", "test", "test", script, timeout=timeout)


def echo_then_close(s) -> None:
    s.expect([("message", b"Hello", False)])
    s.expect_close(ExpectedClose(closed_by_me=True))
    s.send_frame(0x1, b"Hello")
    s.close_after(1)


def test_an_echo_matching_the_expectation_closes_at_once_and_is_ok():
    client = FakeClient()
    started = time.monotonic()
    outcome = LiveSession(case(echo_then_close), client).run()
    assert time.monotonic() - started < 0.5  # finished when the echo matched, not after close_after's second
    assert outcome.received == [("message", b"Hello", False)]
    assert (outcome.behavior, outcome.behavior_close) == ("OK", "OK")
    assert outcome.closed_by_me and outcome.was_clean and outcome.remote_close_code == 1000


def test_a_wrong_echo_is_failed_and_closed_after_the_wait():
    class Garbler(FakeClient):
        def write(self, data: bytes) -> None:
            super().write(data.replace(b"Hello", b"Jello"))

    outcome = LiveSession(case(echo_then_close), Garbler()).run()
    assert outcome.behavior == "FAILED"
    assert outcome.behavior_close == "OK"  # the server closed after close_after(1), cleanly


def test_waits_time_out_with_markers_and_kill_drops_tcp():
    def script(s) -> None:
        s.expect([("timeout", "A")], [("timeout", "A"), ("timeout", "B")])
        s.expect_close(ExpectedClose(closed_by_me=False, codes=(1007,), require_clean=False))
        s.send_frame(0x1, b"ok", fin=False)
        if s.wait(0.1, "A"):
            s.send_frame(0x0, b"valid", fin=False)  # nothing for this client to fail on
            if s.wait(0.1, "B"):
                s.kill_after(0.1)

    client = FakeClient(echo=False)
    outcome = LiveSession(case(script), client).run()
    assert outcome.received == [("timeout", "A"), ("timeout", "B")]
    assert outcome.behavior == "NON-STRICT"  # the client never failed the connection
    assert outcome.dropped_by_me and not outcome.closed_by_me
    assert client.timeout is not None and client.timeout <= 0.1


def test_a_client_breaking_the_protocol_gets_a_close_with_the_errors_code():
    unmasked = build_frame(0x1, b"x", mask=False)  # a client must mask

    def script(s) -> None:
        s.expect([])
        s.expect_close(ExpectedClose(closed_by_me=False))
        s.wait(1)

    client = FakeClient(first=unmasked)
    outcome = LiveSession(case(script), client).run()
    assert outcome.closed_by_me and outcome.local_close_code == 1002
    assert outcome.behavior_close == "FAILED"  # the server had to fail it: not how the case wanted it to end
    assert "client_protocol_error" in outcome.extra


def test_a_client_close_is_echoed_and_ends_the_case():
    def script(s) -> None:
        s.expect([])
        s.expect_close(ExpectedClose(closed_by_me=False, codes=(1002,), require_clean=False))
        s.send_frame(0x1, b"x", rsv=4)  # RSV1 without an extension: the client fails it
        s.kill_after(1)

    client = FakeClient()
    started = time.monotonic()
    outcome = LiveSession(case(script), client).run()
    assert time.monotonic() - started < 0.5
    assert (outcome.behavior, outcome.behavior_close) == ("OK", "OK")
    assert outcome.remote_close_code == 1002 and not outcome.closed_by_me and outcome.was_clean
    # The server's reply to the client's close echoed its code.
    assert client.written.endswith(bytes([0x88, 0x02, 0x03, 0xEA]))


def test_a_silent_client_costs_at_most_the_cases_timeout():
    def script(s) -> None:
        s.expect([("message", b"x", False)])
        s.expect_close(ExpectedClose(closed_by_me=True))
        s.send_frame(0x1, b"x")  # no close_after: the client must do something

    started = time.monotonic()
    outcome = LiveSession(case(script, timeout=0.3), FakeClient(echo=False, answer_close=False)).run()
    assert time.monotonic() - started < 1.5
    assert outcome.behavior == "FAILED" and outcome.dropped_by_me


def test_wait_for_message_hands_messages_over_without_recording_them():
    seen = []

    def script(s) -> None:
        for n in range(3):
            s.send_frame(0x2, bytes([n]) * 10)
            seen.append(s.wait_for_message(1))
        s.behavior = "OK"
        s.send_close(1000)

    outcome = LiveSession(case(script), FakeClient()).run()
    assert seen == [("message", bytes([n]) * 10, True) for n in range(3)]
    assert outcome.received == [] and outcome.extra["messages_handed_over"] == 3
    assert outcome.behavior == "OK"


def test_a_strict_client_fails_fast_on_bad_utf8_in_a_fragment():
    def script(s) -> None:
        s.expect([("timeout", "A")], [("timeout", "A"), ("timeout", "B")])
        s.expect_close(ExpectedClose(closed_by_me=False, codes=(1007,), require_clean=False))
        s.send_frame(0x1, b"ok", fin=False)
        if s.wait(0.1, "A"):
            s.send_frame(0x0, b"\xff", fin=False)
            if s.wait(0.1, "B"):
                s.kill_after(0.1)

    outcome = LiveSession(case(script), FakeClient(echo=False)).run()
    assert (outcome.behavior, outcome.behavior_close, outcome.remote_close_code) == ("OK", "OK", 1007)
