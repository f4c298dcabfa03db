"""Sections 9 and 10: limits and performance, and automatic fragmentation.

* 9.1 / 9.2: one text / binary message of 64 KiB to 16 MiB in a single frame.
* 9.3 / 9.4: a 4 MiB text / binary message in fragments of 64 octets to 4 MiB.
* 9.5 / 9.6: a 1 MiB text / binary frame written in chops of 64 to 2048 octets.
* 9.7 / 9.8: 1000 text / binary messages of 0 to 4096 octets, each sent once the
  previous one came back (round-trip time).
* 10.1.1: a 65536-octet text message sent in frames of 1300 octets.

Section 9 judges itself: the client must echo each message, of the same type and
length (the suite does not compare the content), within the case's time; the
server then closes with 1000. The frame log is off while the big payloads go by.
The time a case took is reported.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..case import FAILED, NORMAL, OK, Case, ExpectedClose, Observation, Script, Session

TEXT, BINARY = 1, 2
KIB, MIB = 1024, 1024 * 1024

#: The server closes (1000) once it has its answer; the closing handshake must complete.
SERVER_CLOSES = ExpectedClose(closed_by_me=True, codes=(NORMAL,), require_clean=True)

#: Seconds the runner allows beyond a case's own time, for the closing handshake.
CLOSE_MARGIN = 10.0

_TEXT_PATTERN = b"BAsd7&jh23"
_BINARY_PATTERN = b"\x00\xfe\x23\xfa\xf0"


@dataclass(frozen=True)
class BigMessage:
    """One message to echo: ``length`` octets of ``pattern`` repeated, sent as a single
    frame (written in ``chop``-octet pieces if given) or in ``fragment``-octet frames."""

    id: str
    length: int
    binary: bool
    pattern: bytes
    seconds: float
    fragment: int | None = None
    chop: int | None = None


@dataclass(frozen=True)
class RoundTrips:
    """``count`` messages of ``length`` octets, one at a time, all within ``seconds``."""

    id: str
    length: int
    binary: bool
    count: int
    seconds: float

    @property
    def payload(self) -> bytes:
        return (b"\xfe" if self.binary else b"*") * self.length


def repeat(pattern: bytes, length: int) -> bytes:
    """``pattern`` repeated and cut to ``length`` octets."""
    return (pattern * (length // len(pattern) + 1))[:length]


def size_name(n: int) -> str:
    if n >= MIB and n % MIB == 0:
        return f"{n // MIB} MiB"
    if n >= KIB and n % KIB == 0:
        return f"{n // KIB} KiB"
    return f"{n} octets"


def kind(binary: bool) -> str:
    return "binary" if binary else "text"


def echo_problem(echo: Observation, binary: bool, length: int) -> str | None:
    """Why ``echo`` is not the echo of a ``binary`` message of ``length`` octets, or None."""
    _, payload, echo_binary = echo
    if echo_binary != binary:
        return f"Expected a {kind(binary)} message back, but got a {kind(echo_binary)} one."
    if len(payload) != length:
        return f"Expected a {kind(binary)} message of {length} octets back, but got {len(payload)}."
    return None


# -- 9.1 to 9.6 ----------------------------------------------------------------------------


def _big_message_script(spec: BigMessage) -> Script:
    def script(s: Session) -> None:
        s.set_wire_log(False)
        s.expect_close(SERVER_CLOSES)
        s.behavior = FAILED
        s.result = f"No message came back within {spec.seconds:g} seconds."
        payload = repeat(spec.pattern, spec.length)
        started = s.now()
        if spec.fragment is not None:
            s.send_message(payload, spec.binary, fragment_size=spec.fragment)
        else:
            s.send_frame(BINARY if spec.binary else TEXT, payload, chop=spec.chop)
        left = spec.seconds - (s.now() - started)
        echo = s.wait_for_message(left) if left > 0 else None
        if echo is not None:
            problem = echo_problem(echo, spec.binary, spec.length)
            if problem is None:
                s.behavior = OK
                elapsed = s.now() - started
                s.result = f"Got the {kind(spec.binary)} message of {spec.length} octets back after {elapsed:.3f} s."
            else:
                s.result = problem
        s.set_wire_log(True)
        s.send_close(NORMAL)

    return script


def _big_message_description(spec: BigMessage) -> str:
    text = f"Send a {kind(spec.binary)} message of {size_name(spec.length)} ({spec.length} octets)"
    if spec.fragment is not None:
        return text + f" in fragments of {size_name(spec.fragment)} each."
    if spec.chop is not None:
        return text + f" in one frame, written {spec.chop} octets at a time."
    return text + " in one frame."


def _big_message_case(spec: BigMessage) -> Case:
    return Case(
        id=spec.id,
        description=_big_message_description(spec),
        expectation=f"The client echoes a {kind(spec.binary)} message of the same length within {spec.seconds:g} s; "
        "the server then closes normally.",
        script=_big_message_script(spec),
        timeout=spec.seconds + CLOSE_MARGIN,
        report_time=True,
    )


# (length, seconds) of 9.1 and 9.2.
_SINGLE_TEXT = ((64 * KIB, 10), (256 * KIB, 10), (1 * MIB, 100), (4 * MIB, 100), (8 * MIB, 100), (16 * MIB, 100))
_SINGLE_BINARY = ((64 * KIB, 10), (256 * KIB, 10), (1 * MIB, 10), (4 * MIB, 10), (8 * MIB, 100), (16 * MIB, 100))
# Fragment sizes of 9.3 and 9.4 (a 4 MiB message, 100 s each).
_FRAGMENTS = (64, 256, 1 * KIB, 4 * KIB, 16 * KIB, 64 * KIB, 256 * KIB, 1 * MIB, 4 * MIB)
# Chop sizes of 9.5 and 9.6 (a 1 MiB frame, 1000 s each).
_CHOPS = (64, 128, 256, 512, 1024, 2048)


def _big_messages() -> list[BigMessage]:
    specs = [BigMessage(f"9.1.{i}", n, False, _TEXT_PATTERN, t) for i, (n, t) in enumerate(_SINGLE_TEXT, 1)]
    specs += [BigMessage(f"9.2.{i}", n, True, _BINARY_PATTERN, t) for i, (n, t) in enumerate(_SINGLE_BINARY, 1)]
    specs += [BigMessage(f"9.3.{i}", 4 * MIB, False, b"*", 100, fragment=f) for i, f in enumerate(_FRAGMENTS, 1)]
    # The suite's 9.4.1 sends 0xfe octets, its 9.4.2 to 9.4.9 '*' octets.
    specs += [
        BigMessage(f"9.4.{i}", 4 * MIB, True, b"\xfe" if i == 1 else b"*", 100, fragment=f)
        for i, f in enumerate(_FRAGMENTS, 1)
    ]
    specs += [BigMessage(f"9.5.{i}", 1 * MIB, False, _TEXT_PATTERN, 1000, chop=c) for i, c in enumerate(_CHOPS, 1)]
    specs += [BigMessage(f"9.6.{i}", 1 * MIB, True, _BINARY_PATTERN, 1000, chop=c) for i, c in enumerate(_CHOPS, 1)]
    return specs


# -- 9.7 and 9.8 -----------------------------------------------------------------------------


def _round_trips_script(spec: RoundTrips) -> Script:
    def script(s: Session) -> None:
        s.set_wire_log(False)
        s.expect_close(SERVER_CLOSES)
        s.behavior = FAILED
        s.result = f"Not all {spec.count} messages came back within {spec.seconds:g} seconds."
        payload, opcode = spec.payload, BINARY if spec.binary else TEXT
        started = s.now()
        for sent in range(1, spec.count + 1):
            s.send_frame(opcode, payload)
            left = spec.seconds - (s.now() - started)
            echo = s.wait_for_message(left) if left > 0 else None
            if echo is None:
                s.result = f"Only {sent - 1} of {spec.count} messages came back within {spec.seconds:g} seconds."
                break
            problem = echo_problem(echo, spec.binary, spec.length)
            if problem is not None:
                s.result = f"Message {sent}: {problem}"
                break
        else:
            elapsed = s.now() - started
            s.behavior = OK
            per_trip = 1000.0 * elapsed / spec.count
            s.result = f"All {spec.count} messages came back in {elapsed:.3f} s ({per_trip:.3f} ms per round trip)."
        s.log(s.result)
        s.set_wire_log(True)
        s.send_close(NORMAL)

    return script


def _round_trips_case(spec: RoundTrips) -> Case:
    return Case(
        id=spec.id,
        description=f"Send {spec.count} {kind(spec.binary)} messages of {spec.length} octets, each once the previous "
        "one came back, to measure the round trip time.",
        expectation=f"The client echoes every message (same type and length) and all {spec.count} come back within "
        f"{spec.seconds:g} s; the server then closes normally.",
        script=_round_trips_script(spec),
        timeout=spec.seconds + CLOSE_MARGIN,
        report_time=True,
    )


# (length, seconds) of 9.7 and 9.8, 1000 messages each.
_ROUND_TRIPS = ((0, 60), (16, 60), (64, 60), (256, 120), (1024, 240), (4096, 480))


def _round_trips() -> list[RoundTrips]:
    return [
        RoundTrips(f"9.{7 + binary}.{i}", n, bool(binary), 1000, t)
        for binary in (0, 1)
        for i, (n, t) in enumerate(_ROUND_TRIPS, 1)
    ]


# -- 10.1.1 ----------------------------------------------------------------------------------

AUTO_FRAGMENT_SIZE = 1300
AUTO_FRAGMENTED = b"*" * 65536


def _auto_fragmented(s: Session) -> None:
    """The suite compares the observations here (so a ping from the client fails it)."""
    s.expect([("message", AUTO_FRAGMENTED, False)])
    s.expect_close(SERVER_CLOSES)
    s.send_message(AUTO_FRAGMENTED, fragment_size=AUTO_FRAGMENT_SIZE)
    s.kill_after(10)


_FRAMES_10_1_1 = -(-len(AUTO_FRAGMENTED) // AUTO_FRAGMENT_SIZE)

CASES: list[Case] = (
    [_big_message_case(spec) for spec in _big_messages()]
    + [_round_trips_case(spec) for spec in _round_trips()]
    + [
        Case(
            id="10.1.1",
            description=f"Send a text message of 65536 octets in {_FRAMES_10_1_1} frames of at most "
            f"{AUTO_FRAGMENT_SIZE} octets (a text frame, then continuation frames).",
            expectation="The client echoes the whole message; the server then closes normally.",
            script=_auto_fragmented,
        )
    ]
)
