"""The client-conformance HTML reports (``report_pages``) and the browser page's pure helpers."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from mod_pywebsocket.client_conformance import report_pages

PAGE = Path(report_pages.__file__).parent / "static" / "client-conformance.html"
HOSTILE = "<script>alert(1)</script>"
PAYLOAD = "<img src=x onerror=alert(2)>"


def _case_report(agent: str, case_id: str, number: int, behavior: str, close: str) -> dict:
    return {
        "agent": agent,
        "id": case_id,
        "case": number,
        "description": f"Send {PAYLOAD} as text.",
        "expectation": "The client echoes it.",
        "behavior": behavior,
        "behaviorClose": close,
        "result": "Observations as expected." if behavior == "OK" else "Not echoed.",
        "resultClose": "Closed as expected.",
        "duration": 12,
        "started": "2025-01-01T00:00:00Z",
        "transport": "HTTP/1.1",
        "scheme": "wss",
        "httpRequest": f"GET /autobahn/runCase?case={number} HTTP/1.1\r\nUser-Agent: {HOSTILE}\r\n",
        "httpResponse": "HTTP/1.1 101 Switching Protocols\r\n",
        "received": [["message", PAYLOAD, False]],
        "expected": {"OK": [["message", PAYLOAD, False]]},
        "expectedClose": {"closedByMe": True, "closeCode": [1000], "requireClean": True},
        "closedByMe": True,
        "droppedByMe": True,
        "wasClean": True,
        "remoteCloseCode": 1000,
        "remoteCloseReason": HOSTILE,
        "localCloseCode": 1000,
        "localCloseReason": None,
        "reportTime": False,
        "log": [f"send text {PAYLOAD}"],
        "wirelog": [[0, "TX", "81 1c ..."], [3, "RX", PAYLOAD]],
        "wirelogTruncated": True,
    }


@pytest.fixture
def reports_dir(tmp_path: Path) -> Path:
    reports = tmp_path / "reports"
    reports.mkdir()
    (tmp_path / "evil.json").write_text(json.dumps(_case_report("x", "2.1", 9, "OK", "OK")))
    index = {
        "Chrome-156": {
            "1.1.1": {
                "behavior": "OK",
                "behaviorClose": "OK",
                "remoteCloseCode": 1000,
                "duration": 12,
                "reportfile": "chrome_156_case_1_1_1.json",
            },
            "2.1": {"behavior": "FAILED", "behaviorClose": "OK", "duration": 5, "reportfile": "../evil.json"},
        },
        HOSTILE: {
            "1.1.2": {
                "behavior": "NON-STRICT",
                "behaviorClose": "WRONG CODE",
                "remoteCloseCode": 1002,
                "duration": 7,
                "reportfile": "hostile_case_1_1_2.json",
            },
        },
    }
    (reports / "index.json").write_text(json.dumps(index))
    (reports / "chrome_156_case_1_1_1.json").write_text(json.dumps(_case_report("Chrome-156", "1.1.1", 1, "OK", "OK")))
    hostile = _case_report(HOSTILE, "1.1.2", 2, "NON-STRICT", "WRONG CODE")
    (reports / "hostile_case_1_1_2.json").write_text(json.dumps(hostile))
    return reports


def test_index_is_escaped_grouped_and_linked(reports_dir: Path):
    path = report_pages.write_html(str(reports_dir))
    assert path == str(reports_dir / "index.html")
    html = Path(path).read_text(encoding="utf-8")
    assert "<script" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'href="chrome_156_case_1_1_1.html"' in html
    assert 'href="hostile_case_1_1_2.html"' in html
    assert "evil" not in html  # the ../ report file is neither read nor linked
    assert not (reports_dir.parent / "evil.html").exists()
    assert "1 Framing" in html and "2 Pings and pongs" in html and ">1.1<" in html
    assert html.index("1.1.1") < html.index("1.1.2") < html.index(">2.1<")
    assert "HTTP/1.1 wss" in html  # the transport each agent ran over
    assert 'class="badge failed">FAILED&nbsp;1' in html and 'class="badge ok">OK&nbsp;1' in html
    assert 'class="close wrong">WRONG CODE' in html  # the close verdict, beside the behaviour when not OK


def test_case_pages_are_escaped(reports_dir: Path):
    report_pages.write_html(str(reports_dir))
    for name in ("chrome_156_case_1_1_1.html", "hostile_case_1_1_2.html"):
        page = (reports_dir / name).read_text(encoding="utf-8")
        assert "<script" not in page and "<img" not in page
        assert "&lt;img src=x onerror=alert(2)&gt;" in page
        assert "Switching Protocols" in page and "cut short" in page
        assert '<td class="RX">RX</td>' in page
    hostile = (reports_dir / "hostile_case_1_1_2.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in hostile
    assert 'class="badge nonstrict">NON-STRICT' in hostile


def test_missing_or_broken_index(tmp_path: Path):
    html = Path(report_pages.write_html(str(tmp_path))).read_text(encoding="utf-8")
    assert "No results yet" in html
    (tmp_path / "index.json").write_text("{not json")
    assert "No results yet" in Path(report_pages.write_html(str(tmp_path))).read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("agent_case_1_1_1.json", True),
        ("../agent_case_1_1_1.json", False),
        ("sub/agent.json", False),
        ("a\\b.json", False),
        ("a..b.json", False),
        ("index.json", False),
        ("agent_case_1_1_1.html", False),
        (None, False),
    ],
)
def test_safe_report_names(name, safe):
    assert report_pages._safe_name(name) is safe


# -- the browser page ----------------------------------------------------------------


def test_page_is_self_contained():
    html = PAGE.read_text(encoding="utf-8")
    assert "window.conformance" in html and 'id="start"' in html and "autostart" in html
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "<link" not in html and "@import" not in html and "innerHTML" not in html
    for name in ("globToRegExp", "parseSelection", "selectCases", "agentFromUserAgent", "cleanAgent"):
        assert f"function {name}(" in html


IDS = ["1.1.1", "1.1.8", "1.2.1", "2.1", "6.4.1", "6.4.4", "10.1.1", "12.1.1", "12.1.10", "13.7.18"]
AGENTS = {
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36": (
        "Chrome-156"
    ),
    "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0": "Firefox-140",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 "
    "Safari/605.1.15": "Safari-18",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 "
    "Safari/537.36 Edg/130.0.0.0": "Edge-130",
}


def _run_lib(checks: str) -> object:
    node = shutil.which("node") or shutil.which("nodejs")
    if node is None:
        pytest.skip("no node to run the page's script")
    lib = re.search(r'<script id="conformance-lib">(.*?)</script>', PAGE.read_text(encoding="utf-8"), re.S)
    assert lib is not None
    program = lib.group(1) + "\nconst lib = globalThis.conformanceLib;\nconsole.log(JSON.stringify(" + checks + "));"
    out = subprocess.run([node, "-e", program], capture_output=True, text=True, timeout=30, check=True)
    return json.loads(out.stdout)


def test_page_case_globs():
    selections = ["", "1.*", "6.4.*", " 2.1 , 13.* ", "1.1.?", "12.1.1", "*", "1.?.1", "9.*"]
    calls = ", ".join(f"lib.selectCases({json.dumps(IDS)}, lib.parseSelection({json.dumps(s)}))" for s in selections)
    got = dict(zip(selections, _run_lib(f"[{calls}]"), strict=True))
    assert got[""] == IDS and got["*"] == IDS
    assert got["1.*"] == ["1.1.1", "1.1.8", "1.2.1"]  # not 10.* nor 12.*
    assert got["6.4.*"] == ["6.4.1", "6.4.4"]
    assert got[" 2.1 , 13.* "] == ["2.1", "13.7.18"]
    assert got["1.1.?"] == ["1.1.1", "1.1.8"]
    assert got["12.1.1"] == ["12.1.1"]  # "." is literal and the match is whole: not 12.1.10
    assert got["1.?.1"] == ["1.1.1", "1.2.1"]
    assert got["9.*"] == []


def test_page_agent_names():
    uas = list(AGENTS)
    checks = (
        f"[{json.dumps(uas)}.map(lib.agentFromUserAgent), "
        f"[{json.dumps(HOSTILE)}, 'Chrome 1/2', '', null].map(lib.cleanAgent), lib.clock(3725), lib.clock(65)]"
    )
    names, cleaned, long_clock, short_clock = _run_lib(checks)
    assert names == list(AGENTS.values())
    assert cleaned == ["script-alert-1-script", "Chrome-1-2", "", ""]
    assert (long_clock, short_clock) == ("1:02:05", "1:05")
