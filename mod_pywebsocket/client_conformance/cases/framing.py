"""Sections 1-4: plain frames, control frames, reserved bits, reserved opcodes.

* 1.1 / 1.2: a text / binary message of 0 to 65536 bytes in one frame (1.x.8 in
  997-byte writes), which the client must echo; the server then closes normally.
* 2: pings (empty, text, binary, 125 bytes, written byte by byte, ten in a row)
  must be answered with pongs carrying the same payload; a 126-byte ping is a
  protocol error; an unsolicited pong must be ignored.
* 3: a frame with RSV bits set, none negotiated, is a protocol error (1002).
* 4: a frame with a reserved opcode (3-7 data, 11-15 control) is a protocol error.

The frame helpers here (``Frame``, ``send_frames``, ``describe_frames``) serve the
fragmentation cases (section 5) as well.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from ..case import NORMAL, PROTOCOL_ERROR, Case, ExpectedClose, Observation, Session

CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG = 0, 1, 2, 8, 9, 10

#: How a case's octets go on the wire: all at once, each frame in a write of its
#: own (the suite's "sync"/"frame-wise chops"), or one octet per write.
Writes = Literal["one", "frame", "octet"]

#: The server closes (1000) once the client did what was expected; clean close required.
SERVER_CLOSES = ExpectedClose(closed_by_me=True, codes=(NORMAL,), require_clean=True)
#: The client must fail the connection, with 1002 if it sends a code.
CLIENT_FAILS = ExpectedClose(closed_by_me=False, codes=(PROTOCOL_ERROR,), require_clean=False)

HELLO = b"Hello, world!"
BINARY_SAMPLE = b"\x00\xff\xfe\xfd\xfc\xfb\x00\xff"

_NAMES = {CONTINUATION: "continuation", TEXT: "text", BINARY: "binary", CLOSE: "close", PING: "ping", PONG: "pong"}


@dataclass(frozen=True)
class Frame:
    """One frame for ``Session.send_frame``."""

    opcode: int
    payload: bytes = b""
    fin: bool = True
    rsv: int = 0


def wire_length(frame: Frame) -> int:
    """Octets of the (unmasked, server-sent) frame on the wire: header plus payload."""
    n = len(frame.payload)
    return n + (2 if n < 126 else 4 if n < 65536 else 10)


def send_frames(s: Session, frames: Sequence[Frame], writes: Writes = "one") -> None:
    """Send ``frames`` in order; ``"frame"`` writes each one by itself, ``"octet"`` byte by byte."""
    for frame in frames:
        chop = {"one": None, "frame": wire_length(frame), "octet": 1}[writes]
        s.send_frame(frame.opcode, frame.payload, fin=frame.fin, rsv=frame.rsv, chop=chop)


def describe_payload(payload: bytes) -> str:
    if not payload:
        return "empty"
    if len(payload) <= 32 and all(32 <= b < 127 for b in payload):
        return f"'{payload.decode('ascii')}'"
    if len(set(payload)) == 1:
        return f"{len(payload)} octets 0x{payload[0]:02x}"
    if len(payload) <= 16:
        return f"octets {payload.hex(' ')}"
    return f"{len(payload)} octets"


def describe_frame(frame: Frame) -> str:
    name = _NAMES.get(frame.opcode, f"reserved-opcode ({frame.opcode})")
    flags = ([] if frame.fin else ["FIN=0"]) + ([f"RSV={frame.rsv}"] if frame.rsv else [])
    text = f"{name} frame, {describe_payload(frame.payload)}"
    return text + (f" ({', '.join(flags)})" if flags else "")


def describe_frames(frames: Sequence[Frame], writes: Writes = "one") -> str:
    """A sentence listing the frames in order, and how they are written."""
    how = {"one": "", "frame": "; each frame in a write of its own", "octet": "; written one octet at a time"}
    return "Send: " + "; then ".join(describe_frame(f) for f in frames) + how[writes] + "."


# -- section 1: text and binary messages ---------------------------------------------

_SIZES: list[tuple[int, float, int | None]] = [  # payload length, seconds to wait, chop
    (0, 1, None),
    (125, 1, None),
    (126, 1, None),
    (127, 1, None),
    (128, 1, None),
    (65535, 10, None),
    (65536, 10, None),
    (65536, 10, 997),
]


def _echo_case(case_id: str, binary: bool, size: int, seconds: float, chop: int | None) -> Case:
    kind = "binary" if binary else "text"
    payload = (b"\xfe" if binary else b"*") * size

    def script(s: Session) -> None:
        s.expect([("message", payload, binary)])
        s.expect_close(SERVER_CLOSES)
        s.send_frame(BINARY if binary else TEXT, payload, chop=chop)
        s.kill_after(seconds)

    written = "" if chop is None else f", written in pieces of {chop} octets"
    return Case(
        case_id,
        f"A {kind} message of {size} octets in a single frame{written}.",
        f"The client echoes it back unchanged as a {kind} message; the server then closes with 1000, "
        "and the closing handshake completes.",
        script,
    )


def _section1() -> list[Case]:
    return [
        _echo_case(f"1.{group}.{i}", binary, size, seconds, chop)
        for group, binary in ((1, False), (2, True))
        for i, (size, seconds, chop) in enumerate(_SIZES, start=1)
    ]


# -- section 2: pings and pongs -------------------------------------------------------

_PONG_BACK = "The client answers the ping with a pong of the same payload; then a normal, clean close."


def _ping_case(case_id: str, payload: bytes, seconds: float = 1, chop: int | None = None) -> Case:
    def script(s: Session) -> None:
        s.expect([("pong", payload)])
        s.expect_close(SERVER_CLOSES)
        s.send_frame(PING, payload, chop=chop)
        s.close_after(seconds)

    written = "" if chop is None else ", written one octet at a time"
    return Case(case_id, f"A ping, payload {describe_payload(payload)}{written}.", _PONG_BACK, script)


def _case_2_5(s: Session) -> None:
    s.expect([])
    s.expect_close(CLIENT_FAILS)
    s.send_frame(PING, b"\xfe" * 126)
    s.kill_after(1)


def _unsolicited_pong_case(case_id: str, payload: bytes) -> Case:
    def script(s: Session) -> None:
        s.expect([])
        s.expect_close(SERVER_CLOSES)
        s.send_frame(PONG, payload)
        s.send_close(NORMAL)
        s.close_after(1)

    return Case(
        case_id,
        f"An unsolicited pong, payload {describe_payload(payload)}, then a close (1000).",
        "The client ignores the pong (sends nothing for it) and completes the closing handshake.",
        script,
    )


def _case_2_9(s: Session) -> None:
    s.expect([("pong", b"ping payload")])
    s.expect_close(SERVER_CLOSES)
    s.send_frame(PONG, b"unsolicited pong payload")
    s.send_frame(PING, b"ping payload")
    s.close_after(1)


def _ten_pings_case(case_id: str, chop: int | None) -> Case:
    payloads = [b"payload-%d" % i for i in range(10)]

    def script(s: Session) -> None:
        s.expect([("pong", p) for p in payloads])
        s.expect_close(SERVER_CLOSES)
        for payload in payloads:
            s.send_frame(PING, payload, chop=chop)
        s.close_after(3)

    written = "" if chop is None else ", written one octet at a time"
    return Case(
        case_id,
        f"Ten pings in a row, payloads 'payload-0' to 'payload-9'{written}.",
        "A pong for every ping, in order, each with its ping's payload (RFC 6455 lets a client answer only "
        "the last one, but this case asks for all); then a normal, clean close.",
        script,
    )


def _section2() -> list[Case]:
    return [
        _ping_case("2.1", b""),
        _ping_case("2.2", HELLO),
        _ping_case("2.3", BINARY_SAMPLE),
        _ping_case("2.4", b"\xfe" * 125),
        Case(
            "2.5",
            "A ping with a 126-octet payload (control frames may carry at most 125).",
            "The client fails the connection at once, with 1002 (protocol error) if it sends a code.",
            _case_2_5,
        ),
        _ping_case("2.6", b"\xfe" * 125, seconds=2, chop=1),
        _unsolicited_pong_case("2.7", b""),
        _unsolicited_pong_case("2.8", b"unsolicited pong payload"),
        Case(
            "2.9",
            "An unsolicited pong ('unsolicited pong payload'), then a ping ('ping payload').",
            "Nothing for the pong; a pong echoing 'ping payload' for the ping; then a normal, clean close.",
            _case_2_9,
        ),
        _ten_pings_case("2.10", None),
        _ten_pings_case("2.11", 1),
    ]


# -- sections 3 and 4: a frame the client must reject ---------------------------------


def bad_frame_case(case_id: str, frames: Sequence[Frame], writes: Writes, fault: str,
                   echoed: Sequence[Observation] = ()) -> Case:  # fmt: skip
    """The client must fail the connection (1002), for the reason ``fault``; ``echoed``: what it
    should have echoed before (then echoing nothing at all is NON-STRICT)."""
    echoed = list(echoed)

    def script(s: Session) -> None:
        s.expect(echoed, [] if echoed else None)
        s.expect_close(CLIENT_FAILS)
        send_frames(s, frames, writes)
        s.kill_after(1)

    before = "The client echoes the first message, then" if echoed else "The client"
    after = " It must not answer the ping." if frames[-1].opcode == PING else ""
    return Case(
        case_id,
        describe_frames(frames, writes),
        f"{before} fails the connection at once (close code 1002, if it sends one): {fault}.{after}",
        script,
    )


def _after_hello(frame: Frame) -> list[Frame]:
    """A valid text message, then ``frame``, then an empty ping."""
    return [Frame(TEXT, HELLO), frame, Frame(PING)]


_HELLO_ECHO: list[Observation] = [("message", HELLO, False)]
_RSV = "no extension gives the RSV bits a meaning"
_OPCODE = "the opcode is reserved"


def _section3() -> list[Case]:
    return [
        bad_frame_case("3.1", [Frame(TEXT, HELLO, rsv=1)], "one", _RSV),
        bad_frame_case("3.2", _after_hello(Frame(TEXT, HELLO, rsv=2)), "one", _RSV, _HELLO_ECHO),
        bad_frame_case("3.3", _after_hello(Frame(TEXT, HELLO, rsv=3)), "frame", _RSV, _HELLO_ECHO),
        bad_frame_case("3.4", _after_hello(Frame(TEXT, HELLO, rsv=4)), "octet", _RSV, _HELLO_ECHO),
        bad_frame_case("3.5", [Frame(BINARY, BINARY_SAMPLE, rsv=5)], "one", _RSV),
        # The suite titles 3.6 "ping with RSV = 6" but sends a binary frame; so does this.
        bad_frame_case("3.6", [Frame(BINARY, HELLO, rsv=6)], "one", _RSV),
        bad_frame_case("3.7", [Frame(CLOSE, rsv=7)], "one", _RSV),
    ]


def _section4() -> list[Case]:
    cases = []
    for group, first in ((1, 3), (2, 11)):
        payload = b"reserved opcode payload"
        cases += [
            bad_frame_case(f"4.{group}.1", [Frame(first)], "one", _OPCODE),
            bad_frame_case(f"4.{group}.2", [Frame(first + 1, payload)], "one", _OPCODE),
            bad_frame_case(f"4.{group}.3", _after_hello(Frame(first + 2)), "one", _OPCODE, _HELLO_ECHO),
            bad_frame_case(f"4.{group}.4", _after_hello(Frame(first + 3, HELLO)), "one", _OPCODE, _HELLO_ECHO),
            bad_frame_case(f"4.{group}.5", _after_hello(Frame(first + 4, HELLO)), "octet", _OPCODE, _HELLO_ECHO),
        ]
    return cases


CASES: list[Case] = _section1() + _section2() + _section3() + _section4()
