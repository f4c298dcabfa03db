"""Section 7: the closing handshake (RFC 6455 sections 5.5.1, 7.1.5-7.1.6, 7.4).

The server starts the closing handshake here; the client must answer with a close
of its own and, past the close, ignore everything the server still sends (data, a
ping, a second close). The close body must be empty or a two-octet code with an
optional UTF-8 reason, 125 octets in all at most: a one-octet body, a too long
reason, a reason that is not UTF-8, or a code a close frame must not carry (0-999,
1004-1006, 1016-2999) must make the client fail the connection (1002, or 1007 for
the reason); a valid code (1000-1003, 1007-1011, 3000-4999) must be answered with
1000 or with the same code. 7.13 sends codes no range covers (5000, 65535): what a
client does with them is only informational, as is the order of echo and close in
7.1.6. In every case but those, a wrong close code from the client also fails the
behaviour verdict, as in the suite.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..case import (
    FAILED,
    INFORMATIONAL,
    INVALID_PAYLOAD,
    NON_STRICT,
    NORMAL,
    OK,
    PROTOCOL_ERROR,
    WRONG_CODE,
    Case,
    ExpectedClose,
    Observation,
    Session,
)
from ..verdicts import Outcome
from .framing import CLOSE, CONTINUATION, PING, TEXT
from .utf8_sequences import KOSME

HELLO = b"Hello World!"
#: KOSME, then a surrogate (U+D800, not valid UTF-8), then ASCII: the reason of 7.5.1.
_INVALID_REASON = KOSME + b"\xed\xa0\x80" + b"edited"
_BIG_SIZE = 256 * 1024
_BIG_PATTERN = b"BAsd7&jh23"

Actions = Callable[[Session], None]

#: (code, what it is) of 7.7.1 ...: codes a client must accept.
VALID_CODES: list[tuple[int, str]] = [
    (1000, "normal closure"),
    (1001, "going away"),
    (1002, "protocol error"),
    (1003, "unsupported data"),
    (1007, "invalid payload data"),
    (1008, "policy violation"),
    (1009, "message too big"),
    (1010, "mandatory extension"),
    (1011, "internal error"),
    (3000, "the first code registered with IANA"),
    (3999, "the last code registered with IANA"),
    (4000, "the first private-use code"),
    (4999, "the last private-use code"),
]
#: (code, why it is not allowed) of 7.9.1 ...: codes a close frame must not carry.
INVALID_CODES: list[tuple[int, str]] = [
    (0, "below 1000, never used"),
    (999, "below 1000, never used"),
    (1004, "reserved"),
    (1005, "only for an API to report a close without a code, never sent"),
    (1006, "only for an API to report a close without a close frame, never sent"),
    (1016, "reserved for the protocol, unassigned"),
    (1100, "reserved for the protocol, unassigned"),
    (2000, "reserved for the protocol, unassigned"),
    (2999, "reserved for the protocol, unassigned"),
]
#: Codes past any range RFC 6455 defines (7.13.1, 7.13.2).
UNDEFINED_CODES: list[int] = [5000, 65535]


def _repeated(pattern: bytes, size: int) -> bytes:
    """``pattern`` over and over, cut to ``size`` octets."""
    return (pattern * (size // len(pattern) + 1))[:size]


def wrong_code_fails(outcome: Outcome) -> None:
    """A close code the case does not accept fails the behaviour verdict as well (the suite's rule here)."""
    if outcome.behavior_close == WRONG_CODE:
        outcome.behavior = FAILED
        outcome.result = outcome.result_close


def _echo_or_close_first(outcome: Outcome) -> None:
    """7.1.6: only informational; the sentence says which the client handled first."""
    if outcome.behavior == OK:
        outcome.result = "The client echoed the text message before it handled the close."
    elif outcome.behavior == NON_STRICT:
        outcome.result = "The client handled the close before it could echo the text message."
    outcome.behavior = outcome.behavior_close = INFORMATIONAL


def _undefined(outcome: Outcome) -> None:
    outcome.behavior = outcome.behavior_close = INFORMATIONAL
    outcome.result = "RFC 6455 does not say what a client does with this code."


def _case(
    case_id: str,
    description: str,
    expectation: str,
    actions: Actions,
    codes: Sequence[int] = (NORMAL,),
    clean: bool = True,
    expected: Sequence[Observation] = (),
    non_strict: Sequence[Observation] | None = None,
    after: Callable[[Outcome], None] = wrong_code_fails,
) -> Case:
    """The server closes (``actions``); the client's close must carry one of ``codes``, if any.

    ``clean``: the closing handshake must complete (else the client may just drop TCP).
    """
    close = ExpectedClose(closed_by_me=True, codes=tuple(dict.fromkeys(codes)), require_clean=clean)

    def script(s: Session) -> None:
        s.expect(list(expected), None if non_strict is None else list(non_strict))
        s.expect_close(close)
        actions(s)
        s.kill_after(1)

    return Case(case_id, description, expectation, script, after=after)


# -- 7.1: what comes after the server's close ------------------------------------------


def _message_then_close(s: Session) -> None:
    s.send_frame(TEXT, HELLO)  # the server closes once the echo is in


def _close_then(opcode: int, payload: bytes = b"") -> Actions:
    def actions(s: Session) -> None:
        s.send_close(NORMAL)
        s.send_frame(opcode, payload)

    return actions


def _close_between_fragments(s: Session) -> None:
    s.send_frame(TEXT, b"fragment1", fin=False)
    s.send_close(NORMAL)
    s.send_frame(CONTINUATION, b"fragment2")


def _big_message_close_ping(s: Session) -> None:
    s.send_frame(TEXT, _repeated(_BIG_PATTERN, _BIG_SIZE))
    s.send_frame(TEXT, HELLO)
    s.send_close(NORMAL)
    s.send_frame(PING)


_CLEAN_NORMAL = "The client answers with a close (1000, or no code) and the closing handshake completes"


def _after_close_cases() -> list[Case]:
    return [
        _case(
            "7.1.1",
            "A text message ('Hello World!'), then nothing: the server closes once the client has echoed it.",
            f"The client echoes the message. {_CLEAN_NORMAL}.",
            _message_then_close,
            expected=[("message", HELLO, False)],
        ),
        _case(
            "7.1.2",
            "A close (1000), then a second, empty close frame.",
            f"{_CLEAN_NORMAL}; the second close is ignored.",
            _close_then(CLOSE),
        ),
        _case(
            "7.1.3",
            "A close (1000), then a ping.",
            f"{_CLEAN_NORMAL}; no pong for the ping.",
            _close_then(PING),
        ),
        _case(
            "7.1.4",
            "A close (1000), then a text message ('Hello World!').",
            f"{_CLEAN_NORMAL}; the message is not echoed.",
            _close_then(TEXT, HELLO),
        ),
        _case(
            "7.1.5",
            "The first fragment of a text message ('fragment1'), a close (1000), then the last fragment ('fragment2').",
            f"{_CLEAN_NORMAL}; nothing is echoed.",
            _close_between_fragments,
        ),
        _case(
            "7.1.6",
            f"A text message of {_BIG_SIZE} octets ('{_BIG_PATTERN.decode()}' repeated), a text message "
            "('Hello World!'), a close (1000) and a ping, back to back.",
            "Informational: whether the client echoes the messages before it handles the close, or handles "
            "the close first (and echoes part of them or nothing), is up to the implementation.",
            _big_message_close_ping,
            expected=[("message", HELLO, False)],
            non_strict=[],
            after=_echo_or_close_first,
        ),
    ]


# -- 7.3, 7.5: close bodies --------------------------------------------------------------


def _close(code: int | None, reason: bytes = b"") -> Actions:
    return lambda s: s.send_close(code, reason)


def _body_cases() -> list[Case]:
    too_long = "the client fails the connection (1002) or just drops TCP"
    return [
        _case("7.3.1", "An empty close (no code, no reason).", f"{_CLEAN_NORMAL}.", _close(None)),
        _case(
            "7.3.2",
            "A close whose body is one octet ('a'): too short for a code.",
            f"A protocol error: {too_long}.",
            lambda s: s.send_close_body(b"a"),
            codes=(PROTOCOL_ERROR,),
            clean=False,
        ),
        _case("7.3.3", "A close with code 1000 and no reason.", f"{_CLEAN_NORMAL}.", _close(NORMAL)),
        _case("7.3.4", "A close with code 1000 and reason 'Hello World!'.", f"{_CLEAN_NORMAL}.", _close(NORMAL, HELLO)),
        _case(
            "7.3.5",
            "A close with code 1000 and a reason of 123 '*': 125 octets, the most a control frame carries.",
            f"{_CLEAN_NORMAL}.",
            _close(NORMAL, b"*" * 123),
        ),
        _case(
            "7.3.6",
            "A close with code 1000 and a reason of 124 '*': 126 octets, one more than a control frame may carry.",
            f"A protocol error: {too_long}.",
            _close(NORMAL, b"*" * 124),
            codes=(PROTOCOL_ERROR,),
            clean=False,
        ),
        _case(
            "7.5.1",
            f"A close with code 1000 and a reason that is not valid UTF-8 (a surrogate): 0x{_INVALID_REASON.hex()}.",
            "The client fails the connection (1002 or 1007) or just drops TCP.",
            _close(NORMAL, _INVALID_REASON),
            codes=(PROTOCOL_ERROR, INVALID_PAYLOAD),
            clean=False,
        ),
    ]


# -- 7.7, 7.9, 7.13: close codes ---------------------------------------------------------


def _either(code: int) -> str:
    return "1000" if code == NORMAL else f"1000 or {code}"


def _code_cases() -> list[Case]:
    valid = [
        _case(
            f"7.7.{n}",
            f"A close with the valid code {code} ({what}).",
            f"The client answers with a close ({_either(code)}, or no code) and the closing handshake completes.",
            _close(code),
            codes=(NORMAL, code),
        )
        for n, (code, what) in enumerate(VALID_CODES, start=1)
    ]
    invalid = [
        _case(
            f"7.9.{n}",
            f"A close with the code {code}, which a close frame must not carry ({why}).",
            "A protocol error: the client fails the connection (1002) or just drops TCP.",
            _close(code),
            codes=(PROTOCOL_ERROR,),
            clean=False,
        )
        for n, (code, why) in enumerate(INVALID_CODES, start=1)
    ]
    undefined = [
        _case(
            f"7.13.{n}",
            f"A close with the code {code}, outside every range RFC 6455 defines.",
            "Informational: RFC 6455 leaves it open what a client does (1000, the same code, or 1002 would do).",
            _close(code),
            codes=(NORMAL, code, PROTOCOL_ERROR),
            clean=False,
            after=_undefined,
        )
        for n, code in enumerate(UNDEFINED_CODES, start=1)
    ]
    return valid + invalid + undefined


CASES: list[Case] = _after_close_cases() + _body_cases() + _code_cases()
