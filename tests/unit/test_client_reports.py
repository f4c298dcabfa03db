"""``client_conformance.reports``: Autobahn's report format, index rebuilt from the case files,
and a bound on how many agents a folder takes."""

from __future__ import annotations

import json

from mod_pywebsocket.client_conformance import cases, reports
from mod_pywebsocket.client_conformance.case import ExpectedClose
from mod_pywebsocket.client_conformance.verdicts import Outcome, judge


def _report(agent: str, case_id: str) -> dict:
    outcome = Outcome(received=[("message", b"\xff\x00", True)], expected={"OK": []},
                      expected_close=ExpectedClose(closed_by_me=True), closed_by_me=True, was_clean=True)  # fmt: skip
    judge(outcome)
    case = cases.by_id(case_id)
    return reports.case_report(case, cases.number_of(case_id), agent, outcome, {"transport": "HTTP/2"})


def test_the_index_is_rebuilt_from_the_case_files(tmp_path):
    store = reports.ReportStore(str(tmp_path))
    for agent, case_id in (("Chrome-156", "1.1.2"), ("Chrome-156", "12.1.1"), ("x y", "1.1.1")):
        store.save(_report(agent, case_id))
    assert store.status("Chrome-156", "12.1.1") == {"behavior": "FAILED", "behaviorClose": "OK"}
    page = store.update()
    assert page == str(tmp_path / "index.html")
    index = json.loads((tmp_path / "index.json").read_text())
    assert list(index["Chrome-156"]) == ["1.1.2", "12.1.1"]  # in the suite's order
    entry = index["x y"]["1.1.1"]
    assert entry["reportfile"] == "x_y_case_1_1_1.json" and entry["transport"] == "HTTP/2"
    assert set(entry) >= {"behavior", "behaviorClose", "remoteCloseCode", "duration", "reportfile"}
    case_file = json.loads((tmp_path / entry["reportfile"]).read_text())
    assert case_file["received"] == [["message", "0xff00", True]]  # not UTF-8: as hex
    # Another process (a fresh store) finds the verdicts in the files.
    assert reports.ReportStore(str(tmp_path)).status("x y", "1.1.1") == {"behavior": "FAILED", "behaviorClose": "OK"}


def test_a_folder_takes_a_bounded_number_of_agents(tmp_path):
    store = reports.ReportStore(str(tmp_path))
    store.save(_report("first", "1.1.1"))
    fresh = reports.ReportStore(str(tmp_path))
    assert fresh.admit("first")
    admitted = [fresh.admit(f"agent-{n}") for n in range(reports.MAX_AGENTS + 5)]
    assert admitted.count(True) == reports.MAX_AGENTS - 1
    assert fresh.admit("first") and fresh.admit("agent-0")  # the ones it has keep running


def test_an_unwritable_folder_keeps_the_verdicts_in_memory(tmp_path, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("")
    store = reports.ReportStore(str(blocker / "reports"))
    store.save(_report("a", "1.1.1"))
    assert store.status("a", "1.1.1")["behavior"] == "FAILED"
    assert store.update() is None
    assert "cannot be written" in caplog.text
