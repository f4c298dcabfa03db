"""One case run against a live client: the ``Session`` a case's script drives.

It owns the connection from the end of the opening handshake: frames go out through
the core's raw-frame path (``ServerConnection.send_frame_unchecked``), exactly as the
script gives them; what the client sends is parsed by the same core (masking, UTF-8,
control frames, permessage-deflate), recorded as observations and answered the way
the suite's server answers: pings with pongs, a close with a close echoing its code,
a protocol error with a close carrying the error's code. Reads are timed
(``connection.set_read_timeout``), so waits end on time whatever the client does and
a silent client costs its own connection nothing more than the case's timeout.

The closing rules follow the suite: the server drops TCP as soon as both close frames
have gone by, waits ``CLOSE_TIMEOUT`` seconds for the client's close after its own,
and ends every case by ``Case.timeout`` at the latest.

A case ends on what the client did, never on the order in which our writes and its
FIN or RST crossed: when a write fails, what the client sent before it went is still
readable (Linux keeps received octets readable after a reset, and TLS records already
received are still in OpenSSL's buffers), so it is read into the case to its end of
stream before the case is judged (``_drain``). Over HTTP/2 on Apache a stream the client
resets loses what mod_http2 still held for it: the next read fails (README).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from ..core import constants
from ..core.connection import ServerConnection
from ..core.deflate import PerMessageDeflate
from ..core.errors import ProtocolError
from ..core.frames import MAX_CONTROL_PAYLOAD
from ..core.messages import Close, Control, Message
from ..runtime.interfaces import Connection, TimedConnection
from ..runtime.report_html import opcode_name, show_payload
from .case import Case, ExpectedClose, Observation
from .verdicts import Outcome, judge

# Seconds the server waits for the client's close after sending its own.
CLOSE_TIMEOUT = 2.0
# Seconds a failed write waits for the rest of what the client sent (its end of stream
# normally comes at once: the write failed because the client is gone).
DRAIN_TIMEOUT = 1.0
READ_SIZE = 64 * 1024
MAX_MESSAGE_SIZE = 64 * 1024 * 1024
WIRE_LOG_LIMIT = 2000  # entries kept per case; the rest is counted
_HEX_SHOWN = 48


class _Ended(Exception):
    """The TCP connection is gone (or was dropped): the script's remaining steps do nothing."""


class LiveSession:
    """The ``case.Session`` of one run over ``connection`` (read/write, and set_read_timeout
    when it is a ``TimedConnection``)."""

    def __init__(self, case: Case, connection: Connection, deflate: PerMessageDeflate | None = None) -> None:
        self.case = case
        self.deflate = deflate is not None
        self.behavior: str | None = None
        self.behavior_close: str | None = None
        self.result = ""
        self._conn = connection
        self._set_timeout = connection.set_read_timeout if isinstance(connection, TimedConnection) else None
        self._codec = deflate
        self._core = ServerConnection(max_message_size=MAX_MESSAGE_SIZE, deflate=deflate)
        self.outcome = Outcome()
        self._started = time.monotonic()
        self._deadline = self._started + case.timeout
        self._close_sent = False
        self._close_received = False
        self._tcp_closed = False
        self._write_failed = False  # the client is gone: nothing more is sent, what it sent is read
        self._broken = False  # the client broke the protocol: what it sends next is not parsed
        self._handed_over: list[Observation] | None = None  # messages for wait_for_message
        self._wire_on = True
        self.wire_log: list[list[Any]] = []
        self.wire_dropped = 0
        self.script_log: list[str] = []
        self.octets_sent = 0
        self.octets_received = 0

    # -- the Session API ------------------------------------------------------

    def expect(self, ok: Sequence[Observation], non_strict: Sequence[Observation] | None = None) -> None:
        self.outcome.expected = {"OK": list(ok)}
        if non_strict is not None:
            self.outcome.expected["NON-STRICT"] = list(non_strict)

    def expect_close(self, expected: ExpectedClose) -> None:
        self.outcome.expected_close = expected

    def send_frame(self, opcode: int, payload: bytes = b"", *, fin: bool = True, rsv: int = 0,
                   chop: int | None = None) -> None:  # fmt: skip
        data = self._core.send_frame_unchecked(
            opcode, bytes(payload), fin=fin, rsv1=bool(rsv & 4), rsv2=bool(rsv & 2), rsv3=bool(rsv & 1)
        )
        self._wire("TX", f"{opcode_name(opcode)} fin={int(fin)} rsv={rsv} len={len(payload)}: {_show(payload)}")
        if chop:
            for start in range(0, len(data), chop):
                self._write(data[start : start + chop])
        else:
            self._write(data)

    def send_message(self, payload: bytes, binary: bool = False, *, fragment_size: int | None = None) -> None:
        opcode = constants.OPCODE_BINARY if binary else constants.OPCODE_TEXT
        data = self._codec.compress(bytes(payload)) if self._codec is not None else bytes(payload)
        rsv = 4 if self._codec is not None else 0
        if not fragment_size or len(data) <= fragment_size:
            self.send_frame(opcode, data, rsv=rsv)
            return
        pieces = [data[i : i + fragment_size] for i in range(0, len(data), fragment_size)]
        for index, piece in enumerate(pieces):
            first, last = index == 0, index == len(pieces) - 1
            self.send_frame(
                opcode if first else constants.OPCODE_CONTINUATION, piece, fin=last, rsv=rsv if first else 0
            )

    def send_raw(self, data: bytes) -> None:
        self._wire("TX", f"{len(data)} raw octets: {_show(bytes(data))}")
        self._write(bytes(data))

    def send_ping(self, payload: bytes = b"") -> None:
        self.send_frame(constants.OPCODE_PING, payload)

    def send_close(self, code: int | None = constants.STATUS_NORMAL_CLOSURE, reason: bytes = b"") -> None:
        body = b"" if code is None else code.to_bytes(2, "big") + bytes(reason)
        self._start_close(body, code)

    def send_close_body(self, body: bytes) -> None:
        self._start_close(bytes(body), int.from_bytes(body[:2], "big") if len(body) >= 2 else None)

    def wait(self, seconds: float, marker: str | None = None) -> bool:
        self._receive_until(self._now() + seconds, stop=lambda: not self._is_open())
        if not self._is_open():
            return False
        if marker is not None:
            self.outcome.received.append(("timeout", marker))
        return True

    def close_after(self, seconds: float) -> None:
        self._receive_until(self._now() + seconds, stop=lambda: not self._is_open())
        if self._is_open():
            self.send_close(constants.STATUS_NORMAL_CLOSURE)

    def kill_after(self, seconds: float) -> None:
        self._receive_until(self._now() + seconds, stop=lambda: self._tcp_closed)
        self._drop("the case's time is up")

    def wait_for_message(self, seconds: float) -> Observation | None:
        handed: list[Observation] = []
        self._handed_over = handed
        try:
            self._receive_until(self._now() + seconds, stop=lambda: bool(handed) or not self._is_open())
        finally:
            self._handed_over = None
        self.outcome.extra["messages_handed_over"] = self.outcome.extra.get("messages_handed_over", 0) + len(handed)
        return handed[0] if handed else None

    def now(self) -> float:
        return self._now()

    def log(self, text: str) -> None:
        self.script_log.append(f"{(self._now() - self._started) * 1000:8.1f} ms  {text}")

    def set_wire_log(self, on: bool) -> None:
        self._wire_on = on

    # -- running --------------------------------------------------------------

    def run(self) -> Outcome:
        """Run the script, then see the connection to its end; the judged outcome."""
        try:
            self.case.script(self)
            self._finish()
        except _Ended:
            pass
        outcome = self.outcome
        if self.behavior is not None:
            outcome.own_behavior = self.behavior
        if self.behavior_close is not None:
            outcome.own_behavior_close = self.behavior_close
        judge(outcome)
        if self.result:
            outcome.result = self.result
        if self.case.after is not None:
            self.case.after(outcome)
        outcome.extra["duration_ms"] = int((time.monotonic() - self._started) * 1000)
        return outcome

    def _finish(self) -> None:
        """After the script: wait for the closing handshake (or the case's end), then drop TCP."""
        if self._close_sent and not self._close_received:
            self._receive_until(min(self._deadline, self._now() + CLOSE_TIMEOUT), stop=lambda: self._close_received)
        elif self._is_open():
            self._receive_until(self._deadline, stop=lambda: not self._is_open())
            if self._close_sent and not self._close_received:
                self._receive_until(min(self._deadline, self._now() + CLOSE_TIMEOUT), stop=lambda: self._close_received)
        self._drop("the case is over")

    # -- connection state -----------------------------------------------------

    def _now(self) -> float:
        return time.monotonic()

    def _is_open(self) -> bool:
        return not (self._close_sent or self._close_received or self._tcp_closed)

    def _start_close(self, body: bytes, code: int | None) -> None:
        if self._close_sent or self._tcp_closed or self._write_failed:
            return  # one close handshake: a second close frame is only ever sent raw (send_frame)
        if not self._close_received:
            self.outcome.closed_by_me = True
        self.outcome.local_close_code = code
        self._close_sent = True
        self.send_frame(constants.OPCODE_CLOSE, body)
        if self._close_received:
            self.outcome.was_clean = True

    def _drop(self, why: str) -> None:
        if not self._tcp_closed and not self._write_failed:
            self.outcome.dropped_by_me = True
            self._tcp_closed = True
            self._wire("--", f"the server drops TCP: {why}")
        raise _Ended

    def _write(self, data: bytes) -> None:
        if self._tcp_closed:
            raise _Ended
        if self._write_failed:
            return  # while draining: a pong or close the client can no longer get
        try:
            self._conn.write(data)
        except OSError as e:
            self._write_failed = True
            self._wire("--", f"write failed: {e}")
            self._drain()
            raise _Ended from None
        self.octets_sent += len(data)

    def _drain(self) -> None:
        """After a failed write: read what the client sent before it went, to its end of stream,
        into the case (its messages, its close), so that the verdict is about what it did."""
        try:
            self._receive_until(self._now() + DRAIN_TIMEOUT, stop=lambda: False)
        except _Ended:
            pass
        self._tcp_closed = True

    # -- receiving ------------------------------------------------------------

    def _receive_until(self, deadline: float, stop) -> None:
        """Read and handle what the client sends until ``stop()`` or the deadline."""
        deadline = min(deadline, self._deadline)
        while not stop() and not self._tcp_closed:
            self._handle_events()
            if stop() or self._tcp_closed:
                return
            left = deadline - self._now()
            if left <= 0:
                return
            data = self._read(left)
            if data is None:
                return
            if not self._broken:
                self._core.receive_data(data)

    def _read(self, timeout: float) -> bytes | None:
        try:
            if self._set_timeout is not None:
                self._set_timeout(max(timeout, 0.001))
            data = self._conn.read(max(READ_SIZE, self._core.needed()))
        except TimeoutError:
            return None
        except OSError as e:
            data = b""
            self._wire("--", f"read failed: {e}")
        if not data:
            self._tcp_closed = True
            self._wire("--", "the client closed TCP")
            self._handle_tcp_closed()
            return None
        self.octets_received += len(data)
        self._wire("RX", f"{len(data)} octets: {data[:_HEX_SHOWN].hex(' ')}{' ...' if len(data) > _HEX_SHOWN else ''}")
        return data

    def _handle_tcp_closed(self) -> None:
        if self._close_sent and self._close_received:
            self.outcome.was_clean = True

    def _handle_events(self) -> None:
        while not self._tcp_closed and not self._broken:
            try:
                event = self._core.next_event()
            except ProtocolError as e:
                self._client_broke_the_protocol(e)
                return
            if event is None:
                return
            if isinstance(event, Message):
                data = event.data.encode("utf-8") if isinstance(event.data, str) else bytes(event.data)
                self._observe(("message", data, event.opcode == constants.OPCODE_BINARY))
            elif isinstance(event, Control):
                if event.opcode == constants.OPCODE_PING:
                    self._observe(("ping", event.payload))
                    if not self._close_sent:
                        self.send_frame(constants.OPCODE_PONG, event.payload)
                else:
                    self._observe(("pong", event.payload))
            elif isinstance(event, Close):
                self._client_closed(event)

    def _observe(self, observation: Observation) -> None:
        if self._close_received:
            return  # nothing counts after the client's close
        if self._handed_over is not None and observation[0] == "message":
            self._handed_over.append(observation)  # wait_for_message's: not recorded
            return
        self.outcome.received.append(observation)
        expected, close = self.outcome.expected, self.outcome.expected_close
        if not expected or close is None or not close.closed_by_me or self._close_sent:
            return
        if all(self.outcome.received == observations for observations in expected.values()):
            self.send_close(close.codes[0])  # what was expected has happened: close now

    def _client_closed(self, event: Close) -> None:
        self._wire("RX", f"close {event.code} {event.reason!r}")
        self._close_received = True
        self.outcome.remote_close_code = None if event.code == constants.STATUS_NO_STATUS_RECEIVED else event.code
        self.outcome.remote_close_reason = event.reason
        if self._close_sent:
            self.outcome.was_clean = True
        else:  # the reply echoes the client's code (clean: both closes are on the wire)
            self.send_close(self.outcome.remote_close_code)
        self._drop("the closing handshake is complete")

    def _client_broke_the_protocol(self, error: ProtocolError) -> None:
        """Fail the connection as the suite's server does: a close with the error's code."""
        self._wire("--", f"the client broke the protocol ({error.code}): {error.reason}")
        self.log(f"the client broke the protocol: {error.reason}")
        self.outcome.extra["client_protocol_error"] = f"{error.code}: {error.reason}"
        peer_code = error.peer_close_code
        if peer_code is not None:  # a close with a code no endpoint may send: judged as its code
            self.outcome.remote_close_code = peer_code
        self._broken = True
        if self._close_sent:
            self._drop("a protocol error after the close")
        reason = error.reason.encode("utf-8")[: MAX_CONTROL_PAYLOAD - 2]
        self._start_close(error.code.to_bytes(2, "big") + reason, error.code)
        self._receive_until(self._now() + CLOSE_TIMEOUT, stop=lambda: self._tcp_closed)
        self._drop("failed the connection")

    def _wire(self, direction: str, text: str) -> None:
        if not self._wire_on:
            return
        if len(self.wire_log) >= WIRE_LOG_LIMIT:
            self.wire_dropped += 1
            return
        self.wire_log.append([round((self._now() - self._started) * 1000, 1), direction, text])


def _show(payload: bytes) -> str:
    return show_payload(payload, len(payload), _HEX_SHOWN)
