"""Chromium's WebSockets over HTTP/3 (RFC 9220) against both servers.

Chromium puts a WebSocket on HTTP/3 only with its feature flag, only to an origin it
was told to reach over QUIC, and only over the HTTP/3 session its page came on
(docs/operations.md): so it gets its own browser per server, started with the
server's HTTP/3 origin, and loads the pages from that origin. The access log proves
each WebSocket went over HTTP/3 (``"CONNECT ... HTTP/3" 200``), never over TCP.
"""

from __future__ import annotations

import re
import time

import pytest

from .. import engines
from .conftest import REPORTS, goto
from .test_browser import CHECKS, wait_for_log

pytestmark = [pytest.mark.integration, pytest.mark.engines("chromium")]

# A few client-conformance cases of every section, as the other browser tests run.
CONFORMANCE_CASES = "1.1.1,1.2.8,2.5,3.2,4.1.1,5.19,6.2.3,6.4.1,7.5.1,7.9.1,9.1.1,10.1.1,12.1.1,13.1.1"


@pytest.fixture(scope="module")
def h3_page(server, pki, engine):
    origin = f"127.0.0.1:{server.h3_port}"
    with engines.open_browser(engine, pki, logs=REPORTS / f"{engine}-h3", quic_origin=origin) as browser:
        page = browser.new_page()
        yield page, f"https://{origin}"
        page.close()


def _over_tcp(log: str) -> list[str]:
    """WebSocket upgrades the TCP listeners saw (there should be none)."""
    return re.findall(r'"GET /(?:echo|close)[^"]* HTTP/[\d.]+" 101 ', log)


def test_checks_page_over_http3(server, h3_page):
    page, origin = h3_page
    before = len(server.logs())
    goto(page, f"{origin}/browser-tests.html", "typeof window.testsDone === 'boolean'")
    page.wait_for("window.testsDone === true", timeout=120, interval=0.25)
    results = page.evaluate("window.testResults")
    assert [r["name"] for r in results] == CHECKS
    failures = [f"{r['name']}: {r['detail']}" for r in results if not r["pass"]]
    assert failures == [], "the server's log ends:\n" + server.logs()[before:][-4000:]
    # A WebSocket's access line is written once its handler has returned: wait for the last.
    log = _log_with(server, before, r'"CONNECT /echo[^"]* HTTP/3" 200 ', r'"CONNECT /close[^"]* HTTP/3" 200 ')
    assert '"GET /browser-tests.html HTTP/3" 200' in log
    assert _over_tcp(log) == [], "a WebSocket went over TCP"


def _log_with(server, before: int, *patterns: str, timeout: float = 5.0) -> str:
    """The server's log since ``before`` once every pattern is in it."""
    deadline = time.monotonic() + timeout
    while True:
        log = server.logs()[before:]
        if all(re.search(p, log) for p in patterns):
            return log
        assert time.monotonic() < deadline, f"not in the log: {patterns}\n{log[-3000:]}"
        time.sleep(0.1)


def test_console_page_over_http3(server, h3_page):
    page, origin = h3_page
    before = len(server.logs())
    page.goto(f"{origin}/console.html")
    assert page.evaluate("document.querySelector('#url').value") == f"{origin.replace('https', 'wss')}/echo"
    page.click("#connect")
    wait_for_log(page, "open (protocol")
    page.fill("#message", "typed over h3")
    page.click("#send")
    wait_for_log(page, "< typed over h3")
    page.fill("#code", "4321")
    page.fill("#reason", "done")
    page.click("#disconnect")
    wait_for_log(page, 'closed: code 4321, reason "done", clean true')
    _log_with(server, before, r'"CONNECT /echo HTTP/3" 200 ')


def test_client_conformance_over_http3(server, h3_page, engine):
    page, origin = h3_page
    agent = f"{engine}-h3-{server.kind}"
    goto(page, f"{origin}/client-conformance.html?autostart=1&agent={agent}&cases={CONFORMANCE_CASES}",
         "window.conformance !== undefined")  # fmt: skip
    page.wait_for("window.conformance.done === true", timeout=180, interval=0.25)
    state = page.evaluate("window.conformance")
    assert state["error"] is None
    assert sorted(state["results"]) == sorted(CONFORMANCE_CASES.split(","))
    verdicts = {i: r["behavior"] for i, r in state["results"].items()}
    right = ("1.1.1", "2.5", "5.19", "9.1.1", "12.1.1", "13.1.1")
    assert {i: verdicts[i] for i in right} == dict.fromkeys(right, "OK")
    index = page.evaluate("fetch('/autobahn/reports/index.json').then(r => r.json())")
    assert {case["transport"] for case in index[agent].values()} == {"HTTP/3"}
