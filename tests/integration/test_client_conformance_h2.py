"""The client cases' largest messages over HTTP/2 (RFC 8441) on the appliance, and the
suite's page keeping its WebSockets on HTTP/2.

Issue 22: headless Chromium, from the page loaded over HTTP/2, had 9.1.6 (16 MiB of text
the client must echo) FAILED and every later case on HTTP/1.1. The cause was not the
size: Chromium closes every HTTP/2 session when the host's IP addresses change (a
Docker container starting or stopping beside it adds or removes a veth interface; its
net-log says ``HTTP2_SESSION_CLOSE`` ``ERR_NETWORK_CHANGED`` and ``Abandoned.`` for
the case's stream), and it puts a WebSocket on HTTP/2 only over a session it has.
Here: the 16 MiB echoes over HTTP/2 (9.1.6, 9.2.6) with a client of our own, and
Chromium on the page keeping an HTTP/2 session for every case (the page's same-origin
request before each one) and marking a case that ran over another transport.
"""

from __future__ import annotations

import json
import socket
import time
import urllib.request

import pytest

from mod_pywebsocket.client_conformance import cases

from ..client_conformance import h2_echo
from ..h2client import H2Connection
from ..servers import EXAMPLES, make_test_pki, start_appliance

pytestmark = pytest.mark.integration

MiB = 1024 * 1024
BIG = ["9.1.6", "9.2.6"]  # 16 MiB of text, 16 MiB binary: the client echoes each


@pytest.fixture(scope="module")
def appliance(tmp_path_factory):
    """The appliance on the host's loopback with a test CA (Chromium trusts its key)."""
    tmp = tmp_path_factory.mktemp("client-conformance-h2")
    pki = make_test_pki(tmp / "pki")
    server = start_appliance(EXAMPLES, tmp, certificate=pki, host_network=True)
    server.pki = pki
    yield server
    server.stop()


def _get(server, path: str):
    with urllib.request.urlopen(server.url("http", path), timeout=10) as response:
        return json.load(response)


def _status(server, number: int, agent: str) -> dict:
    from websockets.sync.client import connect

    with connect(server.url("ws", f"/autobahn/getCaseStatus?case={number}&agent={agent}"), open_timeout=10) as ws:
        return json.loads(ws.recv(timeout=15))


def _echo_over_http2(appliance, case_ids: list[str], agent: str) -> None:
    """The cases on streams of one HTTP/2 connection (``h2_echo``), then the reports."""
    h2 = H2Connection("127.0.0.1", appliance.https_port, appliance.ssl_context())
    # Nagle's algorithm off, as browsers have it: with it on, the client's DATA after each
    # WINDOW_UPDATE waited ~40 ms for an ACK (4 to 11 s for 16 MiB instead of 0.4 s).
    h2.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        for case_id in case_ids:
            h2_echo.run_case(h2, cases.number_of(case_id), agent)
        # The last case's report is saved once the server has judged it: getCaseStatus waits
        # for that (run_case returns on the client's own close). Then updateReports, on the
        # same connection: closing it at once could cut the closing handshake short.
        _status(appliance, cases.number_of(case_ids[-1]), agent)
        ws = h2.open_websocket(f"/autobahn/updateReports?agent={agent}")
        h2.wait(lambda: ws.stream_id in h2.ended or ws.stream_id in h2.reset or _closing(h2.data.get(ws.stream_id)))
    finally:
        h2.close()


def _closing(data) -> bool:
    return bool(data) and data[0] & 0x0F == 0x8


def test_16_mib_messages_echo_over_http2(appliance):
    agent = "h2-16mib"
    started = time.monotonic()
    _echo_over_http2(appliance, BIG, agent)
    assert time.monotonic() - started < 20
    mine = _get(appliance, "/autobahn/reports/index.json")[agent]
    assert {i: (mine[i]["behavior"], mine[i]["behaviorClose"], mine[i]["transport"]) for i in BIG} == dict.fromkeys(
        BIG, ("OK", "OK", "HTTP/2")
    )
    for case_id in BIG:  # the whole message went out and came back, in the one stream
        report = _get(appliance, f"/autobahn/reports/{mine[case_id]['reportfile']}")
        assert report["octetsSent"] > 16 * MiB and report["octetsReceived"] > 16 * MiB, case_id
        assert report["httpRequest"].startswith("GET ") and "HTTP/2" in report["httpRequest"].splitlines()[0]
    # getCaseStatus says so too: Autobahn's fields and the transport.
    status = _status(appliance, cases.number_of(BIG[0]), agent)
    assert status == {"behavior": "OK", "behaviorClose": "OK", "transport": "HTTP/2"}


# -- Chromium on the suite's page ------------------------------------------------------


@pytest.fixture(scope="module")
def chromium(appliance):
    from .. import engines

    if engines.missing("chromium"):
        pytest.skip(f"Chromium needs {', '.join(engines.missing('chromium'))}: make engines ENGINES=chromium")
    with engines.open_browser("chromium", appliance.pki) as browser:
        yield browser


def _run_page(browser, appliance, query: str, idle: float = 0.0, timeout: float = 60.0) -> dict:
    """Open the page over https, wait ``idle`` seconds, press Start: window.conformance when done."""
    page = browser.new_page()
    try:
        page.goto(appliance.url("https", f"/client-conformance.html?{query}"))
        time.sleep(idle)
        page.click("#start")
        page.wait_for("window.conformance.done", timeout=timeout)
        state = page.evaluate("window.conformance")
        state["rows"] = page.evaluate("Array.from(document.querySelectorAll('tr.elsewhere'), (r) => r.innerText)")
        state["banner"] = page.evaluate("document.getElementById('transports').innerText")
        return state
    finally:
        page.close()


def test_chromium_runs_every_case_over_http2_after_the_session_went_idle(appliance, chromium):
    """Apache closes an HTTP/2 connection idle for KeepAliveTimeout (5 s): a page left open
    before Start used to put every case on HTTP/1.1. Its request before each case re-opens one."""
    agent = "chromium-h2-idle"
    for _ in range(2):
        state = _run_page(chromium, appliance, f"agent={agent}&cases=9.1.6,9.2.6", idle=6.0)
        if not state["connectionLost"]:
            break  # else Chromium dropped its HTTP/2 connection mid-case (a change of the host's network): again
    assert state["error"] is None and state["pageTransport"] == "HTTP/2"
    got = {i: (r["behavior"], r["transport"]) for i, r in state["results"].items()}
    assert got == dict.fromkeys(BIG, ("OK", "HTTP/2"))
    assert state["otherTransport"] == [] and state["connectionLost"] == [] and state["rows"] == []
    index = _get(appliance, "/autobahn/reports/index.json")[agent]
    assert {i: index[i]["transport"] for i in BIG} == dict.fromkeys(BIG, "HTTP/2")


def test_chromium_page_marks_cases_over_another_transport(appliance, chromium):
    """With RFC 8441 off in Apache, Chromium's WebSockets from the HTTP/2 page use HTTP/1.1:
    the page says so per case, in a banner, and in window.conformance. (Last in this module:
    it changes the appliance's configuration.)"""
    script = "sed -i 's/^\\( *H2WebSockets\\) .*/\\1 off/' /etc/mod_pywebsocket/httpd.conf"
    assert appliance.container.exec_run(["sh", "-c", script]).exit_code == 0
    appliance.container.kill("HUP")  # the entrypoint makes it Apache's graceful restart
    time.sleep(2)
    state = _run_page(chromium, appliance, "agent=chromium-h2-off&cases=1.1.1,1.1.2")
    assert state["error"] is None and state["pageTransport"] == "HTTP/2"
    assert {i: r["transport"] for i, r in state["results"].items()} == {"1.1.1": "HTTP/1.1", "1.1.2": "HTTP/1.1"}
    assert state["otherTransport"] == ["1.1.1", "1.1.2"]
    assert len(state["rows"]) == 2 and all("ran over HTTP/1.1, page is HTTP/2" in row for row in state["rows"])
    assert state["banner"].startswith("2 of 2 cases ran over another transport than the page's (HTTP/2)")
