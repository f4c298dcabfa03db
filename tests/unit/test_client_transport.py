"""Which transport each client case ran over, as getCaseStatus and the browser page tell it.

A browser puts a WebSocket on HTTP/2 (RFC 8441) only over an HTTP/2 session it already
has to the origin; the page (loaded over HTTP/2) shows the cases that ran over another
transport, from the ``transport`` that getCaseStatus adds to Autobahn's fields.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from mod_pywebsocket import common
from mod_pywebsocket.client_conformance import cases
from mod_pywebsocket.client_conformance.service import ClientConformance

from .fakes import client_frame, close_frame, make_request
from .test_report_pages import _run_lib

PAGE = Path(cases.__file__).parent.parent / "static" / "client-conformance.html"


class _Stream:
    def __init__(self) -> None:
        self.sent: list[str] = []

    def send_message(self, text: str) -> None:
        self.sent.append(text)


def _request(resource: str, protocol: str, incoming: bytes = b""):
    request = make_request(incoming, uri=resource)
    request.protocol = protocol
    request.ws_resource = resource
    request.ws_extension_processors = []
    request.ws_stream = _Stream()
    return request


def _status(service: ClientConformance, number: int, agent: str) -> dict:
    request = _request(f"/autobahn/getCaseStatus?case={number}&agent={agent}", "HTTP/1.1")
    service.suites()["/autobahn/getCaseStatus"].transfer_data(request)
    return json.loads(request.ws_stream.sent[0])


# 1.1.1: the server sends an empty text message; this client echoes it and closes.
ECHO_1_1_1 = client_frame(common.OPCODE_TEXT, b"") + close_frame(1000)


@pytest.mark.parametrize(("protocol", "transport"), [("HTTP/2.0", "HTTP/2"), ("HTTP/1.1", "HTTP/1.1")])
def test_case_status_says_which_transport_the_run_came_over(tmp_path: Path, protocol: str, transport: str):
    service = ClientConformance(str(tmp_path))
    number = cases.number_of("1.1.1")
    run = _request(f"/autobahn/runCase?case={number}&agent=a", protocol, ECHO_1_1_1)
    service.suites()["/autobahn/runCase"].transfer_data(run)
    status = _status(service, number, "a")
    assert status == {"behavior": "OK", "behaviorClose": "OK", "transport": transport}
    report = json.loads((tmp_path / "a_case_1_1_1.json").read_text())
    assert report["transport"] == transport


def test_case_status_reads_the_transport_from_the_report_another_process_wrote(tmp_path: Path):
    number = cases.number_of("1.1.1")
    ClientConformance(str(tmp_path)).suites()["/autobahn/runCase"].transfer_data(
        _request(f"/autobahn/runCase?case={number}&agent=a", "HTTP/2.0", ECHO_1_1_1)
    )
    other = ClientConformance(str(tmp_path))  # another process of the server: nothing in memory
    assert _status(other, number, "a")["transport"] == "HTTP/2"
    # A case never run: Autobahn's fields, and no transport.
    assert _status(other, cases.number_of("1.1.2"), "a") == {"behavior": None, "behaviorClose": None, "transport": None}


def test_page_names_its_own_transport_and_marks_cases_over_another():
    protocols = ["h2", "http/1.1", "http/1.0", "h3", "", None, "spdy/3"]
    names, notes = _run_lib(
        f"[{json.dumps(protocols)}.map(lib.transportOf), ["
        "lib.transportNote('HTTP/1.1', 'HTTP/2'), lib.transportNote('HTTP/2', 'HTTP/2'), "
        "lib.transportNote(null, 'HTTP/2'), lib.transportNote('HTTP/1.1', null), "
        "lib.transportNote('HTTP/1.1', 'HTTP/1.1')]]"
    )
    assert names == ["HTTP/2", "HTTP/1.1", "HTTP/1.1", "HTTP/3", None, None, None]
    assert notes == ["ran over HTTP/1.1, page is HTTP/2", "", "", "", ""]


def test_page_keeps_an_http2_session_before_each_case_and_exposes_transports():
    html = PAGE.read_text(encoding="utf-8")
    run_one = re.search(r"async function runOne\(info, previous\) \{(.*?)\n  \}", html, re.S)
    assert run_one is not None
    body = run_one.group(1)
    assert body.index("await keepHttp2Session()") < body.index('connect("runCase"')
    assert 'method: "HEAD"' in html and "nextHopProtocol" in html
    assert "pageTransport" in html and "otherTransport" in html and "connectionLost" in html
    # After the last case too: a connection lost during it is seen before the reports are written.
    main = html[html.index("async function main()") :]
    assert main.index("if (await keepHttp2Session()) markConnectionLost(previous)") < main.index('"updateReports"')
