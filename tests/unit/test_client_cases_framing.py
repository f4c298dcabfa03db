"""The client-conformance cases of sections 1-5: ids, order, and what a few of them send and expect."""

from __future__ import annotations

import pytest

from mod_pywebsocket.client_conformance import recording
from mod_pywebsocket.client_conformance.case import NORMAL, PROTOCOL_ERROR, Case, ExpectedClose
from mod_pywebsocket.client_conformance.cases import fragmentation, framing

CASES: list[Case] = framing.CASES + fragmentation.CASES

# The Autobahn TestSuite's ids for sections 1-5, in its order.
SUITE_IDS = (
    [f"1.1.{i}" for i in range(1, 9)]
    + [f"1.2.{i}" for i in range(1, 9)]
    + [f"2.{i}" for i in range(1, 12)]
    + [f"3.{i}" for i in range(1, 8)]
    + [f"4.1.{i}" for i in range(1, 6)]
    + [f"4.2.{i}" for i in range(1, 6)]
    + [f"5.{i}" for i in range(1, 21)]
)

FAILS = ExpectedClose(closed_by_me=False, codes=(PROTOCOL_ERROR,), require_clean=False)
CLOSES = ExpectedClose(closed_by_me=True, codes=(NORMAL,), require_clean=True)


def by_id(case_id: str) -> Case:
    return next(c for c in CASES if c.id == case_id)


def frames(session: recording.RecordingSession) -> list[tuple]:
    return [a[1:5] for a in session.actions if a[0] == "frame"]


def test_ids_and_order_are_the_suites():
    assert [c.id for c in CASES] == SUITE_IDS
    assert [c.id for c in framing.CASES] == SUITE_IDS[:44]
    assert sorted(CASES, key=lambda c: c.key) == CASES


def test_ids_and_order_match_kosoku():
    kosoku_cases = pytest.importorskip("kosoku.cases")
    suite = [i for i in kosoku_cases.CASES if int(i.split(".")[0]) <= 5]
    assert [c.id for c in CASES] == suite


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_every_script_runs_and_sets_its_expectations(case):
    session = recording.record(case)
    assert case.description and case.expectation
    assert "OK" in session.expected
    assert session.expected_close in (FAILS, CLOSES)
    assert session.actions[-1][0] in ("kill_after", "close_after")


def test_1_1_6_echoes_65535_stars():
    session = recording.record(by_id("1.1.6"))
    assert session.expected == {"OK": [("message", b"*" * 65535, False)]}
    assert frames(session) == [(1, b"*" * 65535, True, 0)]
    assert session.actions[-1] == ("kill_after", 10)


def test_1_2_8_is_written_in_997_octet_chops():
    session = recording.record(by_id("1.2.8"))
    assert session.actions[0] == ("frame", 2, b"\xfe" * 65536, True, 0, 997)
    assert session.expected == {"OK": [("message", b"\xfe" * 65536, True)]}
    assert session.expected_close == CLOSES


def test_2_5_sends_an_oversized_ping_and_expects_1002():
    session = recording.record(by_id("2.5"))
    assert frames(session) == [(9, b"\xfe" * 126, True, 0)]
    assert session.expected == {"OK": []}
    assert session.expected_close == FAILS
    assert session.actions[-1] == ("kill_after", 1)


def test_2_7_sends_a_pong_then_closes_itself():
    session = recording.record(by_id("2.7"))
    assert session.actions == [("frame", 10, b"", True, 0, None), ("close", 1000, b""), ("close_after", 1)]
    assert session.expected == {"OK": []}


def test_2_11_ten_pings_octet_by_octet():
    session = recording.record(by_id("2.11"))
    sent = [a for a in session.actions if a[0] == "frame"]
    assert [a[2] for a in sent] == [b"payload-%d" % i for i in range(10)]
    assert {(a[1], a[5]) for a in sent} == {(9, 1)}
    assert session.expected["OK"] == [("pong", b"payload-%d" % i) for i in range(10)]
    assert session.actions[-1] == ("close_after", 3)


def test_3_2_echo_then_fail_on_rsv_2():
    session = recording.record(by_id("3.2"))
    assert frames(session) == [(1, b"Hello, world!", True, 0), (1, b"Hello, world!", True, 2), (9, b"", True, 0)]
    assert session.expected == {"OK": [("message", b"Hello, world!", False)], "NON-STRICT": []}
    assert session.expected_close == FAILS


def test_3_3_writes_each_frame_by_itself():
    session = recording.record(by_id("3.3"))
    chops = [a[5] for a in session.actions if a[0] == "frame"]
    assert chops == [2 + 13, 2 + 13, 2]


def test_3_7_close_frame_with_all_rsv_bits():
    assert frames(recording.record(by_id("3.7"))) == [(8, b"", True, 7)]


def test_4_2_5_reserved_control_opcode_15_octet_wise():
    session = recording.record(by_id("4.2.5"))
    sent = [a for a in session.actions if a[0] == "frame"]
    assert [(a[1], a[2], a[5]) for a in sent] == [(1, b"Hello, world!", 1), (15, b"Hello, world!", 1), (9, b"", 1)]
    assert session.expected_close == FAILS


def test_4_1_reserved_data_opcodes_3_to_7():
    opcodes = [frames(recording.record(by_id(f"4.1.{i}"))) for i in range(1, 6)]
    assert [f[0][0] for f in opcodes[:2]] + [f[1][0] for f in opcodes[2:]] == [3, 4, 5, 6, 7]


def test_5_6_ping_between_fragments():
    session = recording.record(by_id("5.6"))
    assert frames(session) == [(1, b"fragment1", False, 0), (9, b"ping payload", True, 0), (0, b"fragment2", True, 0)]
    assert session.expected == {"OK": [("pong", b"ping payload"), ("message", b"fragment1fragment2", False)]}
    assert session.expected_close == CLOSES


def test_5_15_echo_of_the_first_message_then_fail():
    session = recording.record(by_id("5.15"))
    assert [f[:3] for f in frames(session)] == [
        (1, b"fragment1", False),
        (0, b"fragment2", True),
        (0, b"fragment3", False),
        (1, b"fragment4", True),
    ]
    assert session.expected == {"OK": [("message", b"fragment1fragment2", False)], "NON-STRICT": []}


def test_5_16_repeats_its_three_frames():
    sent = frames(recording.record(by_id("5.16")))
    assert len(sent) == 6 and sent[:3] == sent[3:]
    assert sent[0] == (0, b"fragment1", False, 0)


def test_5_19_frame_sequence_around_the_pause():
    session = recording.record(by_id("5.19"))
    kinds = [a[0] for a in session.actions]
    assert kinds == ["frame"] * 3 + ["wait"] + ["frame"] * 4 + ["close_after"]
    assert session.actions[3] == ("wait", 1, None)
    assert frames(session) == [
        (1, b"fragment1", False, 0),
        (0, b"fragment2", False, 0),
        (9, b"pongme 1!", True, 0),
        (0, b"fragment3", False, 0),
        (0, b"fragment4", False, 0),
        (9, b"pongme 2!", True, 0),
        (0, b"fragment5", True, 0),
    ]
    assert session.expected == {
        "OK": [
            ("pong", b"pongme 1!"),
            ("pong", b"pongme 2!"),
            ("message", b"fragment1fragment2fragment3fragment4fragment5", False),
        ]
    }
    assert session.expected_close == CLOSES
    assert {a[5] for a in session.actions if a[0] == "frame"} == {None}


def test_5_20_is_5_19_frame_by_frame():
    plain, framed = recording.record(by_id("5.19")), recording.record(by_id("5.20"))
    assert frames(plain) == frames(framed)
    assert plain.expected == framed.expected
    assert [a[5] for a in framed.actions if a[0] == "frame"] == [2 + 9, 2 + 9, 2 + 9, 2 + 9, 2 + 9, 2 + 9, 2 + 9]


def test_wire_length_counts_the_extended_length_header():
    assert [framing.wire_length(framing.Frame(1, b"x" * n)) for n in (0, 125, 126, 65535, 65536)] == [
        2,
        127,
        130,
        65539,
        65546,
    ]


class _SuiteProtocol:
    """Stands in for the suite's protocol object: records what one of kosoku's cases does."""

    CLOSE_STATUS_CODE_NORMAL = NORMAL
    CLOSE_STATUS_CODE_PROTOCOL_ERROR = PROTOCOL_ERROR

    def __init__(self) -> None:
        self.actions: list[tuple] = []

    def sendFrame(self, opcode, payload=b"", fin=True, rsv=0, chopsize=None, sync=False):
        self.actions.append(("frame", opcode, _octets(payload), fin, rsv, chopsize or ("own write" if sync else None)))

    def sendClose(self, code=None, reason=None):
        self.actions.append(("close", code, _octets(reason or b"")))

    def killAfter(self, seconds):
        self.actions.append(("kill_after", seconds))

    def closeAfter(self, seconds):
        self.actions.append(("close_after", seconds))

    def continueLater(self, seconds, then, marker=None):
        self.actions.append(("wait", seconds, marker))
        then()


def _octets(value) -> bytes:
    return value.encode("latin-1") if isinstance(value, str) else bytes(value)


def _ours(session: recording.RecordingSession) -> list[tuple]:
    """Our actions, with a frame written by itself (chop = its whole length) marked as the suite's "sync"."""
    out = []
    for action in session.actions:
        if (
            action[0] == "frame"
            and action[5] is not None
            and action[5] == framing.wire_length(framing.Frame(1, action[2]))
        ):
            action = action[:5] + ("own write",)
        out.append(action)
    return out


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_same_frames_waits_and_expectations_as_kosoku(case):
    kosoku_cases = pytest.importorskip("kosoku.cases")
    protocol = _SuiteProtocol()
    theirs = kosoku_cases.CASES[case.id](protocol)
    theirs.onOpen()
    session = recording.record(case)
    assert _ours(session) == protocol.actions
    expected = {k: [(o[0], *(_octets(x) if isinstance(x, str) else x for x in o[1:])) for o in v]
                for k, v in theirs.expected.items()}  # fmt: skip
    assert session.expected == expected
    close = theirs.expectedClose
    assert session.expected_close == ExpectedClose(
        close["closedByMe"], tuple(close["closeCode"]), close["requireClean"]
    )
