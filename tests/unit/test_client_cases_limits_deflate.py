"""The client-conformance cases of sections 9, 10, 12 and 13, and their generated test data."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from mod_pywebsocket.client_conformance import recording
from mod_pywebsocket.client_conformance.case import (
    FAILED,
    NORMAL,
    OK,
    UNIMPLEMENTED,
    Case,
    DeflateAccept,
    DeflateOffer,
    ExpectedClose,
    Observation,
)
from mod_pywebsocket.client_conformance.cases import compression, limits, testdata

CASES: list[Case] = limits.CASES + compression.CASES
CLOSES = ExpectedClose(closed_by_me=True, codes=(NORMAL,), require_clean=True)
SECTIONS = (9, 10, 12, 13)
ROOT = Path(__file__).resolve().parents[2]

SUITE_IDS = (
    [f"9.{g}.{i}" for g, n in ((1, 6), (2, 6), (3, 9), (4, 9), (5, 6), (6, 6), (7, 6), (8, 6)) for i in range(1, n + 1)]
    + ["10.1.1"]
    + [f"12.{j}.{i}" for j in range(1, 6) for i in range(1, 19)]
    + [f"13.{j}.{i}" for j in range(1, 8) for i in range(1, 19)]
)


def by_id(case_id: str) -> Case:
    return next(c for c in CASES if c.id == case_id)


def kinds(session: recording.RecordingSession) -> list[str]:
    return [a[0] for a in session.actions]


class EchoingSession(recording.RecordingSession):
    """Echoes what the script sent last after ``round_trip`` seconds (none if longer than the wait),
    the ``spoil_at``-th one with its last octet changed, as text if ``as_text``."""

    def __init__(self, deflate: bool = True, round_trip: float = 0.01, spoil_at: int | None = None,
                 as_text: bool = False) -> None:  # fmt: skip
        super().__init__(deflate)
        self.round_trip, self.spoil_at, self.as_text = round_trip, spoil_at, as_text
        self.echoed = 0

    def wait_for_message(self, seconds: float) -> Observation | None:
        self.actions.append(("wait_for_message", seconds))
        if self.round_trip > seconds:
            self._clock += seconds
            return None
        self._clock += self.round_trip
        last = next(a for a in reversed(self.actions) if a[0] in ("message", "frame"))
        payload, binary = (last[1], last[2]) if last[0] == "message" else (last[2], last[1] == 2)
        self.echoed += 1
        if self.echoed == self.spoil_at:
            payload = payload[:-1] + bytes([payload[-1] ^ 1])
        self.received.append(("message", payload, binary and not self.as_text))
        return self.received[-1]


def test_ids_and_order_are_the_suites():
    assert [c.id for c in CASES] == SUITE_IDS
    assert len(limits.CASES) == 55 and len(compression.CASES) == 216
    assert sorted(CASES, key=lambda c: c.key) == CASES


def test_ids_and_order_match_kosoku():
    kosoku_cases = pytest.importorskip("kosoku.cases")
    suite = [i for i in kosoku_cases.CASES if int(i.split(".")[0]) in SECTIONS]
    assert [c.id for c in CASES] == suite


@pytest.mark.parametrize("case", [c for c in CASES if c.id != "10.1.1"], ids=lambda c: c.id)
def test_every_self_judging_script_fails_when_no_echo_comes(case):
    session = recording.record(case, deflate=True)
    assert case.description and case.expectation and case.report_time
    assert session.expected == {} and session.expected_close == CLOSES
    assert session.behavior == FAILED and session.result
    assert kinds(session).count("wait_for_message") == 1
    assert ("wire_log", False) in session.actions
    assert session.actions[-2:] == [("wire_log", True), ("close", NORMAL, b"")]


@pytest.mark.parametrize("case", compression.CASES, ids=lambda c: c.id)
def test_deflate_cases_without_deflate_are_unimplemented(case):
    session = recording.record(case, deflate=False)
    assert session.behavior == UNIMPLEMENTED
    assert session.actions == [("close", NORMAL, b"")]
    assert session.expected_close == CLOSES
    assert case.deflate is not None


def test_case_timeouts_cover_the_suites_times():
    assert by_id("9.1.1").timeout > 10 and by_id("9.1.3").timeout > 100
    assert by_id("9.5.1").timeout > 1000 and by_id("9.7.6").timeout > 480
    assert by_id("12.1.1").timeout > 60 and by_id("13.7.18").timeout > 480
    assert all(c.timeout < 1100 for c in CASES)


def test_9_1_6_is_16_mib_of_the_text_pattern_in_one_frame():
    session = recording.record(by_id("9.1.6"))
    frame = next(a for a in session.actions if a[0] == "frame")
    assert frame[1] == 1 and len(frame[2]) == 16 * 2**20 and frame[3:] == (True, 0, None)
    assert frame[2][:20] == b"BAsd7&jh23BAsd7&jh23"
    assert ("wait_for_message", 100) in session.actions


def test_9_2_3_waits_10_seconds_for_1_mib_of_binary():
    session = recording.record(by_id("9.2.3"))
    frame = next(a for a in session.actions if a[0] == "frame")
    assert frame[1] == 2 and len(frame[2]) == 2**20 and frame[2][:6] == b"\x00\xfe\x23\xfa\xf0\x00"
    assert ("wait_for_message", 10) in session.actions


def test_9_3_and_9_4_fragment_sizes_and_payloads():
    sent = [
        next(a for a in recording.record(by_id(i)).actions if a[0] == "message") for i in ("9.3.1", "9.4.1", "9.4.9")
    ]
    assert sent[0][1:] == (b"*" * 4 * 2**20, False, 64)
    assert sent[1][1:] == (b"\xfe" * 4 * 2**20, True, 64)
    assert sent[2][1:] == (b"*" * 4 * 2**20, True, 4 * 2**20)


def test_9_5_and_9_6_chop_the_frame():
    chops = [
        next(a for a in recording.record(by_id(f"9.{g}.{i}")).actions if a[0] == "frame")[5]
        for g in (5, 6)
        for i in range(1, 7)
    ]
    assert chops == [64, 128, 256, 512, 1024, 2048] * 2


def test_big_message_echo_ok_and_wrong_type():
    case = by_id("9.2.1")
    session = EchoingSession(deflate=False)
    case.script(session)
    assert session.behavior == OK and "65536 octets" in session.result
    wrong = EchoingSession(deflate=False, as_text=True)
    case.script(wrong)
    assert wrong.behavior == FAILED and wrong.result == "Expected a binary message back, but got a text one."
    slow = EchoingSession(deflate=False, round_trip=11)
    case.script(slow)
    assert slow.behavior == FAILED and slow.result == "No message came back within 10 seconds."


def test_9_7_sends_1000_messages_one_at_a_time():
    session = EchoingSession(deflate=False)
    by_id("9.7.6").script(session)
    sent = [a for a in session.actions if a[0] == "frame"]
    assert len(sent) == 1000 and {(a[1], a[2]) for a in sent} == {(1, b"*" * 4096)}
    assert kinds(session)[1:4] == ["frame", "wait_for_message", "frame"]
    assert session.behavior == OK and "1000" in session.result


def test_9_8_1_times_out_like_the_suite():
    session = EchoingSession(deflate=False, round_trip=5)
    by_id("9.8.1").script(session)  # 5 s a round trip: 12 in 60 s
    assert session.behavior == FAILED and session.result == "Only 12 of 1000 messages came back within 60 seconds."
    assert {a[1:3] for a in session.actions if a[0] == "frame"} == {(2, b"")}


def test_10_1_1_compares_the_observations():
    session = recording.record(by_id("10.1.1"))
    assert session.expected == {"OK": [("message", b"*" * 65536, False)]}
    assert session.expected_close == CLOSES
    assert session.actions == [("message", b"*" * 65536, False, 1300), ("kill_after", 10)]


def test_deflate_echoes_slices_that_wrap_around():
    data = testdata.DATA_SETS[1].data
    session = EchoingSession()
    by_id("12.2.5").script(session)
    assert session.behavior == OK and session.result.startswith("All 1000 messages came back as sent")
    sent = [a for a in session.actions if a[0] == "message"]
    assert len(sent) == 1000 and {(len(a[1]), a[2], a[3]) for a in sent} == {(4096, True, None)}
    assert b"".join(a[1] for a in sent) == (data * (4096 * 1000 // len(data) + 1))[: 4096 * 1000]
    assert session.actions[0] == ("wire_log", False)
    assert session.actions[-2:] == [("wire_log", True), ("close", NORMAL, b"")]


def test_deflate_fragments_and_mismatch():
    session = EchoingSession(spoil_at=3)
    by_id("13.3.16").script(session)
    assert session.behavior == FAILED and session.result.startswith("Message 3: the echo's SHA-1")
    assert [a[3] for a in session.actions if a[0] == "message"] == [1024] * 3
    assert session.actions[-1] == ("close", NORMAL, b"")


def test_deflate_times_out():
    session = EchoingSession(round_trip=0.059)
    by_id("12.1.1").script(session)  # 1000 round trips in 59 s of 60
    assert session.behavior == OK
    slow = EchoingSession(round_trip=0.061)
    by_id("12.1.1").script(slow)
    assert slow.behavior == FAILED and slow.result == "Only 983 of 1000 messages came back within 60 seconds."


OFFERS = {
    "plain": DeflateOffer(),
    "window": DeflateOffer(client_max_window_bits=True),
    "window10": DeflateOffer(client_max_window_bits=10, server_no_context_takeover=True),
    "nct": DeflateOffer(client_no_context_takeover=True),
    "nct+window": DeflateOffer(client_no_context_takeover=True, client_max_window_bits=True),
}


@pytest.mark.parametrize(
    ("group", "offers", "accept"),
    [
        (1, ["plain", "window"], DeflateAccept(OFFERS["plain"])),
        (2, ["plain"], None),  # the client did not offer client_no_context_takeover
        (2, ["plain", "nct"], DeflateAccept(OFFERS["nct"], client_no_context_takeover=True)),
        (3, ["plain"], None),
        (3, ["plain", "window"], DeflateAccept(OFFERS["window"], client_max_window_bits=9)),
        (4, ["window10"], DeflateAccept(OFFERS["window10"], client_max_window_bits=15)),
        (5, ["plain"], None),
        (5, ["plain", "window"], None),
        (5, ["nct", "nct+window"], DeflateAccept(OFFERS["nct+window"], True, 9)),
        (6, ["window"], None),
        (6, ["nct+window"], DeflateAccept(OFFERS["nct+window"], True, 15)),
        (7, ["plain", "nct+window"], DeflateAccept(OFFERS["nct+window"], True, 9)),
        (7, ["plain", "nct"], DeflateAccept(OFFERS["nct"], client_no_context_takeover=True)),
        (7, ["plain", "window"], DeflateAccept(OFFERS["plain"])),
        (7, [], None),
    ],
)
def test_choosers_pick_the_suites_offer(group, offers, accept):
    chooser = by_id(f"13.{group}.1").deflate
    assert chooser is not None
    assert chooser([OFFERS[name] for name in offers]) == accept
    assert all(by_id(f"13.{group}.{i}").deflate is chooser for i in range(1, 19))


def test_section_12_accepts_the_first_offer():
    chooser = by_id("12.4.7").deflate
    assert chooser is not None and chooser([OFFERS["window"], OFFERS["plain"]]) == DeflateAccept(OFFERS["window"])
    assert chooser([]) is None


# -- test data --------------------------------------------------------------------------------------


def test_data_sets_have_the_suites_roles():
    assert [(d.name, d.binary) for d in testdata.DATA_SETS] == [
        ("json", False),
        ("bitmap", True),
        ("book", True),
        ("html", False),
        ("pdf", True),
    ]


@pytest.mark.parametrize("data", testdata.DATA_SETS, ids=lambda d: d.name)
def test_data_sets_are_large_deterministic_and_cached(data):
    built = data.data
    assert len(built) >= 256 * 1024
    assert data.data is built
    assert data.build() == built
    if not data.binary:
        assert built.isascii()


def test_data_sets_are_the_same_in_every_process():
    script = "import hashlib; from mod_pywebsocket.client_conformance.cases import testdata as t; "
    script += "print([hashlib.sha1(d.data).hexdigest() for d in t.DATA_SETS])"
    here = str([hashlib.sha1(d.data).hexdigest() for d in testdata.DATA_SETS])
    for seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        out = subprocess.run(
            [sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True, check=True
        )
        assert out.stdout.strip() == here


def ratio(data: bytes) -> float:
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    return len(compressor.compress(data) + compressor.flush()) / len(data)


def test_data_sets_compress_like_the_suites():
    ratios = {d.name: ratio(d.data) for d in testdata.DATA_SETS}
    assert ratios["json"] < 0.1 and ratios["html"] < 0.1
    assert 0.25 < ratios["book"] < 0.5
    assert 0.6 < ratios["pdf"] < 0.9
    assert 0.75 < ratios["bitmap"] < 0.95
    assert testdata.DATA_SETS[1].data[:2] == b"BM" and testdata.DATA_SETS[4].data[:5] == b"%PDF-"


def test_slicer_wraps_around_the_end():
    slicer = testdata.Slicer(b"0123456789")
    assert [slicer.take(4) for _ in range(4)] == [b"0123", b"4567", b"8901", b"2345"]
    assert slicer.offset == 6
    assert testdata.Slicer(b"abc").take(7) == b"abcabca"
