"""The client-conformance cases of sections 6 and 7: ids, order, payloads, waits, expectations, verdict hooks."""

from __future__ import annotations

import pytest

from mod_pywebsocket.client_conformance import recording
from mod_pywebsocket.client_conformance.case import (
    FAILED,
    INFORMATIONAL,
    INVALID_PAYLOAD,
    NORMAL,
    OK,
    PROTOCOL_ERROR,
    WRONG_CODE,
    Case,
    ExpectedClose,
)
from mod_pywebsocket.client_conformance.cases import closing, utf8, utf8_sequences
from mod_pywebsocket.client_conformance.verdicts import Outcome, judge

CASES: list[Case] = utf8.CASES + closing.CASES

# Cases per subsection, in the suite's order: 6.1 ... 6.23, then 7.1, 7.3, 7.5, 7.7, 7.9, 7.13.
_SIX = [3, 4, 2, 4, 5, 11, 4, 2, 4, 3, 5, 8, 5, 10, 1, 3, 5, 5, 5, 7, 8, 34, 7]
_SEVEN = {1: 6, 3: 6, 5: 1, 7: 13, 9: 9, 13: 2}
SUITE_IDS = [f"6.{s}.{n}" for s, count in enumerate(_SIX, start=1) for n in range(1, count + 1)] + [
    f"7.{s}.{n}" for s, count in _SEVEN.items() for n in range(1, count + 1)
]

SERVER_CLOSES = ExpectedClose(closed_by_me=True, codes=(NORMAL,), require_clean=True)
UTF8_FAILS = ExpectedClose(closed_by_me=False, codes=(INVALID_PAYLOAD,), require_clean=False, wrong_endpoint_fatal=True)
KOSME = bytes.fromhex("cebae1bdb9cf83cebcceb5")
PAST_UNICODE_TEXT = KOSME + bytes.fromhex("f4908080") + b"edited"


def by_id(case_id: str) -> Case:
    return next(c for c in CASES if c.id == case_id)


def frames(session: recording.RecordingSession) -> list[tuple]:
    """(opcode, payload, fin) of every frame the script sent."""
    return [a[1:4] for a in session.actions if a[0] == "frame"]


def not_frames(session: recording.RecordingSession) -> list[tuple]:
    return [a for a in session.actions if a[0] not in ("frame", "log")]


def kosoku_case(case_id: str):
    return pytest.importorskip("kosoku.cases").CASES[case_id]


def as_bytes(payload: str | bytes) -> bytes:
    """A kosoku payload: py2-era text stands for the octets of its latin-1 form."""
    return payload.encode("latin-1") if isinstance(payload, str) else payload


# -- ids and order ---------------------------------------------------------------------


def test_ids_and_order_are_the_suites():
    assert len(utf8.CASES) == 145 and len(closing.CASES) == 37
    assert [c.id for c in CASES] == SUITE_IDS
    assert sorted(CASES, key=lambda c: c.key) == CASES


def test_ids_and_order_match_kosoku():
    kosoku_cases = pytest.importorskip("kosoku.cases")
    assert [c.id for c in utf8.CASES] == [i for i in kosoku_cases.CASES if i.startswith("6.")]
    assert [c.id for c in closing.CASES] == [i for i in kosoku_cases.CASES if i.startswith("7.")]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_every_script_runs_and_sets_its_expectations(case):
    session = recording.record(case)
    assert case.description and case.expectation
    assert "OK" in session.expected
    assert session.expected_close is not None
    assert session.actions[-1][0] in ("kill_after", "close_after")


# -- section 6 -----------------------------------------------------------------------------


def test_6_1_3_three_frames_only_the_middle_one_not_empty():
    session = recording.record(by_id("6.1.3"))
    middle = b"middle frame payload"
    assert frames(session) == [(1, b"", False), (0, middle, False), (0, b"", True)]
    assert session.expected == {"OK": [("message", middle, False)]}
    assert session.expected_close == SERVER_CLOSES
    assert not_frames(session) == [("close_after", 1)]


def test_6_2_2_is_cut_between_code_points():
    session = recording.record(by_id("6.2.2"))
    (_, head, _), (_, tail, _) = frames(session)
    text = "Hello-\u00b5@\u00df\u00f6\u00e4\u00fc\u00e0\u00e1-UTF-8!!".encode()
    assert head + tail == text
    assert head.decode() == "Hello-\u00b5@\u00df\u00f6\u00e4"


def test_6_2_3_goes_one_octet_per_frame_and_ends_with_an_empty_frame():
    session = recording.record(by_id("6.2.3"))
    text = "Hello-\u00b5@\u00df\u00f6\u00e4\u00fc\u00e0\u00e1-UTF-8!!".encode()
    sent = frames(session)
    assert sent[0] == (1, text[:1], False)
    assert all(opcode == 0 and len(payload) == 1 and not fin for opcode, payload, fin in sent[1:-1])
    assert sent[-1] == (0, b"", True)  # as the suite frames a length that is a multiple of the piece size
    assert b"".join(p for _, p, _ in sent) == text and len(sent) == len(text) + 1
    assert session.expected == {"OK": [("message", text, False)]}


def test_6_3_2_invalid_text_in_octets_must_fail_the_connection():
    session = recording.record(by_id("6.3.2"))
    payload = KOSME + bytes.fromhex("eda080") + b"edited"
    assert b"".join(p for _, p, _ in frames(session)) == payload
    assert session.expected == {"OK": []}
    assert session.expected_close == UTF8_FAILS
    assert not_frames(session) == [("kill_after", 1)]


def test_6_4_1_three_frames_with_waits_and_fail_fast_expectations():
    session = recording.record(by_id("6.4.1"))
    assert frames(session) == [
        (1, KOSME, False),
        (0, bytes.fromhex("f4908080"), False),
        (0, b"edited", True),
    ]
    assert not_frames(session) == [("wait", 1, "A"), ("wait", 1, "B"), ("kill_after", 1)]
    assert session.expected == {"OK": [("timeout", "A")], "NON-STRICT": [("timeout", "A"), ("timeout", "B")]}
    assert session.expected_close == UTF8_FAILS


def test_6_4_2_cuts_right_after_the_octet_that_makes_it_invalid():
    session = recording.record(by_id("6.4.2"))
    assert [p for _, p, _ in frames(session)] == [PAST_UNICODE_TEXT[:12], b"\x90", PAST_UNICODE_TEXT[13:]]


def test_6_4_stops_sending_once_the_client_failed_the_connection():
    class FailsAfterA(recording.RecordingSession):
        def wait(self, seconds, marker=None):
            super().wait(seconds, marker)
            return marker != "B"

    session = FailsAfterA()
    by_id("6.4.1").script(session)
    assert len(frames(session)) == 2
    assert not_frames(session) == [("wait", 1, "A"), ("wait", 1, "B")]


@pytest.mark.parametrize(("case_id", "cuts"), [("6.4.3", (11, 15)), ("6.4.4", (12, 13))])
def test_6_4_3_and_4_send_pieces_of_one_frame(case_id, cuts):
    session = recording.RecordingSession()
    by_id(case_id).script(session)
    one, two = cuts
    header = bytes([0x01, len(PAST_UNICODE_TEXT)])  # text, FIN=0, 21 octets, unmasked
    assert session.actions == [
        ("raw", header + PAST_UNICODE_TEXT[:one]),
        ("wait", 1, "A"),
        ("raw", PAST_UNICODE_TEXT[one:two]),
        ("wait", 1, "B"),
        ("raw", PAST_UNICODE_TEXT[two:]),
        ("frame", 0, b"", True, 0, None),
        ("kill_after", 1),
    ]


@pytest.mark.parametrize("case", [c for c in utf8.CASES if c.key[1] >= 5], ids=lambda c: c.id)
def test_6_5_to_6_23_send_kuhns_sequences_as_the_suite_does(case):
    reference = kosoku_case(case.id)
    session = recording.record(case)
    ((opcode, payload, fin),) = frames(session)
    assert (opcode, fin) == (1, True)
    assert payload == as_bytes(reference.PAYLOAD)
    assert utf8_sequences.is_valid_utf8(payload) == reference.isValid
    if reference.isValid:
        assert session.expected == {"OK": [("message", payload, False)]}
        assert session.expected_close == SERVER_CLOSES
    else:
        assert session.expected == {"OK": []}
        assert session.expected_close == UTF8_FAILS
    assert not_frames(session) == [("kill_after", 0.5)]


# kosoku's 6.2.1/6.2.3 text is real text (UTF-8 in the original); 6.2.4's stands for octets; 6.3's are octets.
_ENCODINGS = [("6.2.1", "utf-8"), ("6.2.3", "utf-8"), ("6.2.4", "latin-1"), ("6.3.1", None), ("6.3.2", None)]


@pytest.mark.parametrize(("case_id", "encoding"), _ENCODINGS)
def test_6_2_and_6_3_payloads_are_the_suites(case_id, encoding):
    sent = b"".join(p for _, p, _ in frames(recording.record(by_id(case_id))))
    payload = kosoku_case(case_id).PAYLOAD
    assert sent == (payload if encoding is None else payload.encode(encoding))


def test_the_integer_scheme():
    assert utf8_sequences.scheme(0x20AC, 3) == "\u20ac".encode()
    assert utf8_sequences.scheme(0x2F, 2) == b"\xc0\xaf"  # overlong
    assert utf8_sequences.scheme(0x7FFFFFFF, 6) == bytes.fromhex("fdbfbfbfbfbf")
    with pytest.raises(ValueError):
        utf8_sequences.scheme(0x800, 2)


# -- section 7 -----------------------------------------------------------------------------


def test_7_1_6_sends_256k_then_text_close_ping():
    session = recording.record(by_id("7.1.6"))
    big = frames(session)[0][1]
    assert len(big) == 256 * 1024 and big.startswith(b"BAsd7&jh23BAsd") and big.endswith(b"jh23BAsd")
    assert [a[0] for a in session.actions] == ["frame", "frame", "close", "frame", "kill_after"]
    assert session.actions[3][1] == 9  # a ping after the close
    assert session.expected == {"OK": [("message", b"Hello World!", False)], "NON-STRICT": []}


def test_7_3_2_sends_a_one_octet_close_body():
    session = recording.record(by_id("7.3.2"))
    assert session.actions == [("close_body", b"a"), ("kill_after", 1)]
    assert session.expected_close == ExpectedClose(closed_by_me=True, codes=(PROTOCOL_ERROR,), require_clean=False)


def test_7_3_6_reason_one_octet_too_long():
    session = recording.record(by_id("7.3.6"))
    assert session.actions[0] == ("close", NORMAL, b"*" * 124)
    assert session.expected_close.codes == (PROTOCOL_ERROR,)


def test_7_5_1_reason_is_not_utf8():
    (_, code, reason), _ = recording.record(by_id("7.5.1")).actions
    assert code == NORMAL and reason == KOSME + bytes.fromhex("eda080") + b"edited"
    assert not utf8_sequences.is_valid_utf8(reason)


@pytest.mark.parametrize("case", [c for c in closing.CASES if c.key[1] == 7], ids=lambda c: c.id)
def test_7_7_valid_codes_expect_the_code_echoed_or_1000(case):
    session = recording.record(case)
    (_, code, reason), _ = session.actions
    assert code == kosoku_case(case.id).CLOSE_CODE and reason == b""
    assert session.expected_close.codes[0] == NORMAL and code in session.expected_close.codes
    assert session.expected_close.closed_by_me and session.expected_close.require_clean
    assert session.expected == {"OK": []}


@pytest.mark.parametrize("case", [c for c in closing.CASES if c.key[1] == 9], ids=lambda c: c.id)
def test_7_9_invalid_codes_expect_1002(case):
    session = recording.record(case)
    assert session.actions == [("close", kosoku_case(case.id).CLOSE_CODE, b""), ("kill_after", 1)]
    assert session.expected_close == ExpectedClose(closed_by_me=True, codes=(PROTOCOL_ERROR,), require_clean=False)


def test_7_9_codes_are_the_suites():
    assert [code for code, _ in closing.INVALID_CODES] == [0, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999]


def outcome_of(case: Case, **facts) -> Outcome:
    """Judge what ``facts`` say happened in ``case``, then run its hook."""
    session = recording.record(case)
    outcome = Outcome(expected=session.expected, expected_close=session.expected_close, **facts)
    judge(outcome)
    case.after(outcome)
    return outcome


def test_7_a_wrong_close_code_fails_the_behaviour_too():
    wrong = outcome_of(by_id("7.9.1"), closed_by_me=True, was_clean=True, remote_close_code=NORMAL)
    assert (wrong.behavior, wrong.behavior_close) == (FAILED, WRONG_CODE)
    right = outcome_of(by_id("7.9.1"), closed_by_me=True, was_clean=True, remote_close_code=PROTOCOL_ERROR)
    assert (right.behavior, right.behavior_close) == (OK, OK)
    echoed = outcome_of(by_id("7.7.2"), closed_by_me=True, was_clean=True, remote_close_code=1001)
    assert (echoed.behavior, echoed.behavior_close) == (OK, OK)


@pytest.mark.parametrize("case_id", ["7.1.6", "7.13.1", "7.13.2"])
def test_7_1_6_and_7_13_are_informational(case_id):
    outcome = outcome_of(by_id(case_id), closed_by_me=True, was_clean=True, remote_close_code=4321)
    assert (outcome.behavior, outcome.behavior_close) == (INFORMATIONAL, INFORMATIONAL)


def test_7_13_codes():
    assert [recording.record(by_id(i)).actions[0] for i in ("7.13.1", "7.13.2")] == [
        ("close", 5000, b""),
        ("close", 65535, b""),
    ]
