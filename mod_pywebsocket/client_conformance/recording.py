"""A ``Session`` that only records what a script does: for unit tests of the cases.

Nothing is sent; every wait "times out" with the connection open (as with a client
that never answers), so a script runs to its end and its expectations, frames and
waits can be checked.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .case import Case, ExpectedClose, Observation


class RecordingSession:
    deflate: bool

    def __init__(self, deflate: bool = False) -> None:
        self.deflate = deflate
        self.behavior: str | None = None
        self.behavior_close: str | None = None
        self.result = ""
        self.expected: dict[str, list[Observation]] = {}
        self.expected_close: ExpectedClose | None = None
        self.actions: list[tuple[Any, ...]] = []
        self.received: list[Observation] = []
        self._clock = 0.0

    def expect(self, ok: Sequence[Observation], non_strict: Sequence[Observation] | None = None) -> None:
        self.expected = {"OK": list(ok)}
        if non_strict is not None:
            self.expected["NON-STRICT"] = list(non_strict)

    def expect_close(self, expected: ExpectedClose) -> None:
        self.expected_close = expected

    def send_frame(self, opcode: int, payload: bytes = b"", *, fin: bool = True, rsv: int = 0,
                   chop: int | None = None) -> None:  # fmt: skip
        self.actions.append(("frame", opcode, bytes(payload), fin, rsv, chop))

    def send_message(self, payload: bytes, binary: bool = False, *, fragment_size: int | None = None) -> None:
        self.actions.append(("message", bytes(payload), binary, fragment_size))

    def send_raw(self, data: bytes) -> None:
        self.actions.append(("raw", bytes(data)))

    def send_ping(self, payload: bytes = b"") -> None:
        self.actions.append(("frame", 9, bytes(payload), True, 0, None))

    def send_close(self, code: int | None = 1000, reason: bytes = b"") -> None:
        self.actions.append(("close", code, bytes(reason)))

    def send_close_body(self, body: bytes) -> None:
        self.actions.append(("close_body", bytes(body)))

    def wait(self, seconds: float, marker: str | None = None) -> bool:
        self._clock += seconds
        self.actions.append(("wait", seconds, marker))
        if marker is not None:
            self.received.append(("timeout", marker))
        return True

    def close_after(self, seconds: float) -> None:
        self._clock += seconds
        self.actions.append(("close_after", seconds))

    def kill_after(self, seconds: float) -> None:
        self._clock += seconds
        self.actions.append(("kill_after", seconds))

    def wait_for_message(self, seconds: float) -> Observation | None:
        self._clock += seconds
        self.actions.append(("wait_for_message", seconds))
        return None

    def now(self) -> float:
        return self._clock

    def log(self, text: str) -> None:
        self.actions.append(("log", text))

    def set_wire_log(self, on: bool) -> None:
        self.actions.append(("wire_log", on))


def record(case: Case, deflate: bool = False) -> RecordingSession:
    session = RecordingSession(deflate)
    case.script(session)
    return session
