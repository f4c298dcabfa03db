"""Section 5: fragmentation (RFC 6455 section 5.4).

A client must reassemble a message sent in fragments, however the octets are cut
on the wire, and answer a ping arriving between fragments at once. It must fail
the connection (1002) on a fragmented control frame, on a continuation frame
with no message to continue, and on a new data frame inside an unfinished
message.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..case import Case, Observation, Session
from .framing import (
    CONTINUATION,
    HELLO,
    PING,
    PONG,
    SERVER_CLOSES,
    TEXT,
    Frame,
    Writes,
    bad_frame_case,
    describe_frames,
    send_frames,
)


def _fragments(*numbers: int) -> list[bytes]:
    return [b"fragment%d" % n for n in numbers]


def _good_case(case_id: str, frames: Sequence[Frame], writes: Writes, expected: Sequence[Observation]) -> Case:
    """Legal frames the client must answer with ``expected``; then the server closes."""

    def script(s: Session) -> None:
        s.expect(list(expected))
        s.expect_close(SERVER_CLOSES)
        send_frames(s, frames, writes)
        s.close_after(1)

    pong = "a pong echoing the ping's payload, then " if any(f.opcode == PING for f in frames) else ""
    message = b"".join(f.payload for f in frames if f.opcode != PING).decode("ascii")
    return Case(
        case_id,
        describe_frames(frames, writes),
        f"The client sends {pong}the reassembled message back ('{message}'); then a normal, clean close.",
        script,
    )


# -- 5.1, 5.2: fragmented control frames ----------------------------------------------


def _fragmented_control(case_id: str, opcode: int) -> Case:
    one, two = _fragments(1, 2)
    frames = [Frame(opcode, one, fin=False), Frame(CONTINUATION, two)]
    return bad_frame_case(case_id, frames, "one", "a control frame must not be fragmented")


# -- 5.3 - 5.8: legal fragmented messages ---------------------------------------------


def _two_fragments(case_id: str, writes: Writes, ping: bool) -> Case:
    one, two = _fragments(1, 2)
    frames = [Frame(TEXT, one, fin=False), Frame(CONTINUATION, two)]
    expected: list[Observation] = [("message", one + two, False)]
    if ping:
        frames.insert(1, Frame(PING, b"ping payload"))
        expected.insert(0, ("pong", b"ping payload"))
    return _good_case(case_id, frames, writes, expected)


# -- 5.9 - 5.18: continuation frames with nothing to continue, and the like ------------

_NOTHING_TO_CONTINUE = "there is no message for the continuation frame to continue"


def _orphan_continuation(case_id: str, fin: bool, writes: Writes) -> Case:
    frames = [Frame(CONTINUATION, b"non-continuation payload", fin=fin), Frame(TEXT, HELLO)]
    return bad_frame_case(case_id, frames, writes, _NOTHING_TO_CONTINUE)


def _case_5_15() -> Case:
    one, two, three, four = _fragments(1, 2, 3, 4)
    frames = [
        Frame(TEXT, one, fin=False),
        Frame(CONTINUATION, two),
        Frame(CONTINUATION, three, fin=False),
        Frame(TEXT, four),
    ]
    return bad_frame_case("5.15", frames, "one", _NOTHING_TO_CONTINUE, [("message", one + two, False)])


def _repeated_orphan(case_id: str, fin: bool) -> Case:
    one, two, three = _fragments(1, 2, 3)
    once = [Frame(CONTINUATION, one, fin=fin), Frame(TEXT, two, fin=False), Frame(CONTINUATION, three)]
    return bad_frame_case(case_id, once * 2, "one", _NOTHING_TO_CONTINUE)


def _case_5_18() -> Case:
    one, two = _fragments(1, 2)
    frames = [Frame(TEXT, one, fin=False), Frame(TEXT, two)]
    return bad_frame_case("5.18", frames, "one", "every frame after a message's first must be a continuation")


# -- 5.19, 5.20: pings between fragments, with a pause -----------------------------------

_PINGS = [b"pongme 1!", b"pongme 2!"]
_FIVE = _fragments(1, 2, 3, 4, 5)


def _before_pause() -> list[Frame]:
    return [Frame(TEXT, _FIVE[0], fin=False), Frame(CONTINUATION, _FIVE[1], fin=False), Frame(PING, _PINGS[0])]


def _after_pause() -> list[Frame]:
    return [
        Frame(CONTINUATION, _FIVE[2], fin=False),
        Frame(CONTINUATION, _FIVE[3], fin=False),
        Frame(PING, _PINGS[1]),
        Frame(CONTINUATION, _FIVE[4]),
    ]


def _pause_case(case_id: str, writes: Writes) -> Case:
    def script(s: Session) -> None:
        s.expect([("pong", _PINGS[0]), ("pong", _PINGS[1]), ("message", b"".join(_FIVE), False)])
        s.expect_close(SERVER_CLOSES)
        send_frames(s, _before_pause(), writes)
        if s.wait(1):
            send_frames(s, _after_pause(), writes)
            s.close_after(1)

    how = "" if writes == "one" else " Each frame goes in a write of its own."
    return Case(
        case_id,
        "A text message in five fragments with a ping after the second and after the fourth, and a pause "
        "of one second after the first ping." + how,
        "The client answers the first ping during the pause, before the message is complete, then the "
        "second; both pongs echo their ping's payload; then it sends back 'fragment1...fragment5' "
        "as one text message; then a normal, clean close.",
        script,
    )


CASES: list[Case] = [
    _fragmented_control("5.1", PING),
    _fragmented_control("5.2", PONG),
    _two_fragments("5.3", "one", ping=False),
    _two_fragments("5.4", "frame", ping=False),
    _two_fragments("5.5", "octet", ping=False),
    _two_fragments("5.6", "one", ping=True),
    _two_fragments("5.7", "frame", ping=True),
    _two_fragments("5.8", "octet", ping=True),
    _orphan_continuation("5.9", True, "one"),
    _orphan_continuation("5.10", True, "frame"),
    _orphan_continuation("5.11", True, "octet"),
    _orphan_continuation("5.12", False, "one"),
    _orphan_continuation("5.13", False, "frame"),
    _orphan_continuation("5.14", False, "octet"),
    _case_5_15(),
    _repeated_orphan("5.16", False),
    _repeated_orphan("5.17", True),
    _case_5_18(),
    _pause_case("5.19", "one"),
    _pause_case("5.20", "frame"),
]
