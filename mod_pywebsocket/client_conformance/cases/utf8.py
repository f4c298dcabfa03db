"""Section 6: UTF-8 in text messages (RFC 6455 sections 5.6 and 8.1).

A client must accept every valid UTF-8 text, however it is cut into frames (empty
frames, cuts inside a code point), and echo it; and it must fail the connection
(1007) on a text message that is not valid UTF-8, if possible as soon as the
offending octet arrives ("fail fast", 6.4.x: a wait between the parts of such a
message tells how soon). 6.5-6.23 send the sequences of Markus Kuhn's UTF-8 decoder
stress test (``utf8_sequences``) one per message.

Messages are framed here, not by ``Session.send_message``, so that the wire is the
suite's exactly: a message cut into pieces of ``n`` octets whose length is a
multiple of ``n`` ends with an empty final continuation frame, as the suite's does.
"""

from __future__ import annotations

from collections.abc import Callable

from ..case import INVALID_PAYLOAD, Case, ExpectedClose, Observation, Session
from .framing import CONTINUATION, SERVER_CLOSES, TEXT
from .utf8_sequences import FAMILIES, FIRST_FAMILY, KOSME, is_valid_utf8

#: The client must fail the connection (1007 if it sends a code); if the server has
#: to close instead, the client never noticed the bad UTF-8, which fails the case.
CLIENT_FAILS_UTF8 = ExpectedClose(
    closed_by_me=False, codes=(INVALID_PAYLOAD,), require_clean=False, wrong_endpoint_fatal=True
)

_SAMPLE = "Hello-\u00b5@\u00df\u00f6\u00e4\u00fc\u00e0\u00e1-UTF-8!!"  # two-octet letters amid ASCII
#: KOSME, a surrogate (U+D800, invalid at its second octet), then ASCII.
_SURROGATE_TEXT = KOSME + b"\xed\xa0\x80" + b"edited"
#: KOSME, the scheme's encoding of 0x110000 (invalid at its second octet), then ASCII.
_PAST_UNICODE_TEXT = KOSME + b"\xf4\x90\x80\x80" + b"edited"

Sender = Callable[[Session], None]


def send_text(s: Session, payload: bytes, fragment_size: int | None = None) -> None:
    """``payload`` as one text message, in frames of ``fragment_size`` octets if given, never checked."""
    if fragment_size is None or len(payload) <= fragment_size:
        s.send_frame(TEXT, payload)
        return
    starts = range(0, len(payload) + 1, fragment_size)  # reaches len(payload) itself: an empty last frame
    for index, start in enumerate(starts):
        last = index == len(starts) - 1
        s.send_frame(TEXT if index == 0 else CONTINUATION, payload[start : start + fragment_size], fin=last)


def _frames(*pieces: bytes) -> Sender:
    """One text message in these frames, in order."""

    def send(s: Session) -> None:
        for index, piece in enumerate(pieces):
            s.send_frame(TEXT if index == 0 else CONTINUATION, piece, fin=index == len(pieces) - 1)

    return send


def _text(payload: bytes, fragment_size: int | None = None) -> Sender:
    return lambda s: send_text(s, payload, fragment_size)


def _hex(payload: bytes) -> str:
    return "0x" + payload.hex() if payload else "nothing"


def _shown(payload: bytes) -> str:
    text = payload.decode()
    if not text:
        return "an empty text message"
    return f"'{text}'" if text.isprintable() else _hex(payload)


def _echo_case(case_id: str, description: str, payload: bytes, send: Sender, kill_after: float | None = None) -> Case:
    """Valid text the client must echo; the server closes once it has, else after a second.

    With ``kill_after`` the server drops TCP after that many seconds instead, as 6.5-6.23 do.
    """

    def script(s: Session) -> None:
        s.expect([("message", payload, False)])
        s.expect_close(SERVER_CLOSES)
        send(s)
        if kill_after is None:
            s.close_after(1)
        else:
            s.kill_after(kill_after)

    return Case(case_id, description, f"The client echoes {_shown(payload)}; then a clean close.", script)


def _reject_case(case_id: str, description: str, send: Sender, seconds: float) -> Case:
    """Invalid text: the client must fail the connection at once."""

    def script(s: Session) -> None:
        s.expect([])
        s.expect_close(CLIENT_FAILS_UTF8)
        send(s)
        s.kill_after(seconds)

    expectation = "The client fails the connection (1007) without echoing anything: the text is not valid UTF-8."
    return Case(case_id, description, expectation, script)


# -- 6.1 - 6.3: empty frames, valid and invalid text, whole and cut up ----------------


def _basic_cases() -> list[Case]:
    sample = _SAMPLE.encode()
    head, tail = _SAMPLE[:11].encode(), _SAMPLE[11:].encode()
    middle = b"middle frame payload"
    per_octet = "one frame per octet, so most frames end inside a code point"
    return [
        _echo_case("6.1.1", "An empty text message in one frame.", b"", _frames(b"")),
        _echo_case("6.1.2", "A text message in three empty frames.", b"", _frames(b"", b"", b"")),
        _echo_case(
            "6.1.3", "A text message in three frames, only the middle one not empty.", middle, _frames(b"", middle, b"")
        ),
        _echo_case("6.2.1", f"A valid UTF-8 text message in one frame: {_hex(sample)}.", sample, _text(sample)),
        _echo_case(
            "6.2.2",
            f"A valid UTF-8 text message in two frames cut between code points: {_hex(head)}, then {_hex(tail)}.",
            sample,
            _frames(head, tail),
        ),
        _echo_case("6.2.3", f"The text of 6.2.1 in {per_octet}.", sample, _text(sample, 1)),
        _echo_case("6.2.4", f"A valid UTF-8 text ({_hex(KOSME)}) in {per_octet}.", KOSME, _text(KOSME, 1)),
        _reject_case(
            "6.3.1",
            f"A text message in one frame, not valid UTF-8 (its 13th octet, 0xa0, makes a surrogate): "
            f"{_hex(_SURROGATE_TEXT)}.",
            _text(_SURROGATE_TEXT),
            1,
        ),
        _reject_case("6.3.2", f"The text of 6.3.1 in {per_octet}.", _text(_SURROGATE_TEXT, 1), 1),
    ]


# -- 6.4: fail fast, in frames or in pieces of one frame -------------------------------


def _frame_header(opcode: int, length: int, fin: bool) -> bytes:
    """The header of an unmasked (server) frame declaring ``length`` payload octets."""
    first = (0x80 if fin else 0) | opcode
    if length < 126:
        return bytes([first, length])
    if length < 1 << 16:
        return bytes([first, 126]) + length.to_bytes(2, "big")
    return bytes([first, 127]) + length.to_bytes(8, "big")


def _part_senders(s: Session, parts: tuple[bytes, bytes, bytes], one_frame: bool) -> list[Callable[[], None]]:
    """How to send each of the three parts: as three frames, or as pieces of one frame
    (written raw, so the client sees the frame arrive in three goes)."""
    if one_frame:
        header = _frame_header(TEXT, sum(map(len, parts)), fin=False)  # the suite's streaming frame: FIN=0

        def last() -> None:
            s.send_raw(parts[2])
            s.send_frame(CONTINUATION, b"")  # the message ends with an empty final frame

        return [lambda: s.send_raw(header + parts[0]), lambda: s.send_raw(parts[1]), last]
    return [
        lambda: s.send_frame(TEXT, parts[0], fin=False),
        lambda: s.send_frame(CONTINUATION, parts[1], fin=False),
        lambda: s.send_frame(CONTINUATION, parts[2]),
    ]


def _fail_fast_case(case_id: str, cuts: tuple[int, int], one_frame: bool) -> Case:
    text = _PAST_UNICODE_TEXT
    parts = (text[: cuts[0]], text[cuts[0] : cuts[1]], text[cuts[1] :])
    failed_at_once: list[Observation] = [("timeout", "A")]

    def script(s: Session) -> None:
        s.expect(failed_at_once, failed_at_once + [("timeout", "B")])
        s.expect_close(CLIENT_FAILS_UTF8)
        first, second, third = _part_senders(s, parts, one_frame)
        first()
        if s.wait(1, "A"):
            second()
            if s.wait(1, "B"):
                third()
                s.kill_after(1)

    pieces = "pieces of one frame" if one_frame else "frames"
    return Case(
        case_id,
        f"A text message in three {pieces}, a second's pause after the first and the second: "
        f"{_hex(parts[0])} (valid so far), {_hex(parts[1])} (with it the text turns invalid: f4 90 starts a "
        f"code point past U+10FFFF), {_hex(parts[2])}.",
        "The client takes the first part and is still connected after the first pause; it fails the "
        "connection (1007) as soon as the second arrives (OK), or at least once the message is complete "
        "(NON-STRICT).",
        script,
    )


# -- 6.5 - 6.23: the UTF-8 decoder stress test, one sequence per message ------------------


def _stress_case(case_id: str, title: str, payload: bytes) -> Case:
    valid = is_valid_utf8(payload)
    validity = "valid" if valid else "not valid"
    description = f"{title[0].upper()}{title[1:]}: one text frame with {_hex(payload)}, {validity} UTF-8."
    if valid:
        return _echo_case(case_id, description, payload, _text(payload), kill_after=0.5)
    return _reject_case(case_id, description, _text(payload), 0.5)


def _stress_cases() -> list[Case]:
    return [
        _stress_case(f"6.{number}.{k}", title, payload)
        for number, (title, sequences) in enumerate(FAMILIES, start=FIRST_FAMILY)
        for k, payload in enumerate(sequences, start=1)
    ]


#: Subsection -> title, for reports: 6.5 ... 6.23.
SUBSECTIONS: dict[str, str] = {f"6.{n}": title for n, (title, _) in enumerate(FAMILIES, start=FIRST_FAMILY)}

CASES: list[Case] = [
    *_basic_cases(),
    _fail_fast_case("6.4.1", (11, 15), one_frame=False),
    _fail_fast_case("6.4.2", (12, 13), one_frame=False),
    _fail_fast_case("6.4.3", (11, 15), one_frame=True),
    _fail_fast_case("6.4.4", (12, 13), one_frame=True),
    *_stress_cases(),
]
