"""The gate of `make client-conformance`: expected verdicts per engine, and the transport check."""

from __future__ import annotations

import json

from ..client_conformance import browsers


def _r(behavior: str, close: str = "OK", transport: str = "HTTP/1.1") -> dict:
    return {"behavior": behavior, "behaviorClose": close, "transport": transport}


def test_a_verdict_the_expectations_do_not_hold_is_reported():
    expected = {"1.1.1": ["OK", "OK"], "7.9.1": ["FAILED", "WRONG CODE"], "3.2": ["OK", "OK"]}
    results = {"1.1.1": _r("FAILED", "UNCLEAN"), "7.9.1": _r("FAILED", "WRONG CODE"), "3.2": _r("NON-STRICT"),
               "2.1": _r("OK")}  # fmt: skip
    # 3.2 is decided by timing alone between two passes; 2.1 has no expectation yet.
    assert browsers.unexpected(results, expected) == [("1.1.1", ("FAILED", "UNCLEAN"), ("OK", "OK"))]
    # Timing decides only between OK and NON-STRICT, not the close verdict.
    assert browsers.unexpected({"3.2": _r("NON-STRICT", "UNCLEAN")}, expected)


def test_cases_over_another_transport_are_listed():
    results = {"1.1.1": _r("OK", transport="HTTP/2"), "9.1.6": _r("OK", transport="HTTP/1.1")}
    assert browsers.elsewhere(results, "h2") == [("9.1.6", "HTTP/1.1")]
    assert browsers.elsewhere(results, "ws") == [("1.1.1", "HTTP/2")]


def test_update_merges_into_the_engines_file(tmp_path, monkeypatch):
    monkeypatch.setattr(browsers, "EXPECTED", tmp_path)
    (tmp_path / "firefox.json").write_text(json.dumps({"transports": {"ws": {"2.1": ["OK", "OK"]}}}))
    browsers.write_expected("firefox", "153", {"ws": {"10.1.1": _r("OK"), "1.1.1": _r("OK")}, "h2": {}})
    written = json.loads((tmp_path / "firefox.json").read_text())
    assert list(written["transports"]["ws"]) == ["1.1.1", "2.1", "10.1.1"]  # the suite's order
    assert written["transports"]["h2"] == {} and "firefox 153" in written["measured"]
    assert browsers.load_expected("firefox") == written["transports"]
    assert browsers.load_expected("webkit") is None
