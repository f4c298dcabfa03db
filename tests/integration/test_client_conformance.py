"""The built-in client-conformance suite (/autobahn) on both servers, over ws, wss and HTTP/2.

Clients under test here: the ``websockets`` library's sync client (echoing, as the
suite's harnesses do) and, over HTTP/2, a client built on this package's core. The
whole suite with Chromium is ``make client-conformance``; Chromium through a few
cases of every section is in the browser tests.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import threading
import time
import urllib.error
import urllib.request

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from mod_pywebsocket.client_conformance import cases

from ..client_conformance import abrupt_client, compare, echo_client, h2_echo
from ..servers import start_server

pytestmark = pytest.mark.integration

# A few cases of every section, and what the websockets client earns on each (as kosoku
# judges it too: see test_websockets_verdicts_agree_with_kosoku).
BOUNDED = {
    "1.1.1": "OK",
    "1.2.8": "OK",
    "2.5": "OK",
    "2.10": "OK",
    "3.1": "OK",
    "4.2.1": "OK",
    "5.6": "OK",
    "5.19": "OK",
    "6.2.3": "OK",
    "6.4.1": "NON-STRICT",
    "6.12.8": "OK",
    "7.5.1": "OK",
    "7.9.1": "OK",
    "9.1.1": "OK",
    "10.1.1": "OK",
    "12.1.1": "OK",
    "13.3.1": "OK",
}


def _base(server, scheme: str) -> str:
    return server.url(scheme, "/autobahn")


def _http_json(server, path: str):
    with urllib.request.urlopen(server.url("http", path), timeout=10) as response:
        return json.load(response)


def _one_message(server, scheme: str, path: str) -> str:
    with connect(server.url(scheme, path), ssl=server.client_ssl(scheme), compression=None, open_timeout=10) as ws:
        return ws.recv(timeout=10)


def test_the_url_api(examples, scheme):
    assert _one_message(examples, scheme, "/autobahn/getCaseCount") == "517"
    info = json.loads(_one_message(examples, scheme, "/autobahn/getCaseInfo?case=63"))
    assert info["id"] == "5.19" and info["description"]
    assert json.loads(_one_message(examples, scheme, "/autobahn/getCaseInfo?case=517"))["id"] == "13.7.18"
    # What it cannot serve gets a close saying why.
    for bad in ("getCaseInfo?case=0", "getCaseInfo?case=518", "runCase?case=1", "runCase?casetuple=99.1&agent=x"):
        with connect(examples.url(scheme, "/autobahn/" + bad), ssl=examples.client_ssl(scheme), open_timeout=10) as ws:
            with pytest.raises(ConnectionClosed):
                ws.recv(timeout=10)
        assert ws.close_code == 1008, bad
        assert ws.close_reason


def test_bounded_run_and_reports(examples, scheme):
    """A few cases of every section, the verdicts and the reports in Autobahn's format."""
    agent = f"websockets-{scheme}"
    base = _base(examples, scheme)
    ssl = examples.client_ssl(scheme)
    for case_id in BOUNDED:
        echo_client.run_case(base, cases.number_of(case_id), agent, ssl=ssl)
    status = json.loads(_one_message(examples, scheme, f"/autobahn/getCaseStatus?case=1&agent={agent}"))
    assert status["behavior"] == "OK"
    echo_client.update_reports(base, agent, ssl=ssl)
    index = _http_json(examples, "/autobahn/reports/index.json")
    mine = index[agent]
    assert {i: mine[i]["behavior"] for i in BOUNDED} == BOUNDED
    for entry in mine.values():
        assert set(entry) >= {"behavior", "behaviorClose", "remoteCloseCode", "duration", "reportfile"}
        assert entry["transport"] == "HTTP/1.1"
    report = _http_json(examples, f"/autobahn/reports/{mine['5.19']['reportfile']}")
    assert report["id"] == "5.19" and report["scheme"] == scheme and report["wirelog"]
    assert report["received"] == [["pong", "pongme 1!"], ["pong", "pongme 2!"], ["message", "fragment1" + "fragment2"
                                   + "fragment3" + "fragment4" + "fragment5", False]]  # fmt: skip
    with urllib.request.urlopen(examples.url("http", "/autobahn/reports/"), timeout=10) as response:
        page = response.read().decode("utf-8")
    assert agent in page and mine["5.19"]["reportfile"].replace(".json", ".html") in page
    with urllib.request.urlopen(examples.url("http", "/client-conformance.html"), timeout=10) as response:
        assert b"updateReports" in response.read()


def test_cases_over_http2_on_the_appliance(examples):
    if examples.kind != "apache":
        pytest.skip("the standalone server has no HTTP/2 (HTTP/1.1 and, with --h3-port, HTTP/3)")
    agent = "h2-client"
    ids = ["1.1.1", "2.5", "5.19", "6.4.1", "7.9.1", "9.1.1", "10.1.1"]
    h2_echo.run("127.0.0.1", examples.https_port, examples.ssl_context(), [cases.number_of(i) for i in ids], agent)
    mine = _http_json(examples, "/autobahn/reports/index.json")[agent]
    assert {i: (mine[i]["behavior"], mine[i]["transport"]) for i in ids} == dict.fromkeys(ids, ("OK", "HTTP/2"))


# Runs per case and way of ending, on each real server (100 each against the judge alone:
# tests/unit/test_client_session_abrupt.py); wss costs a TLS handshake a run. Over TLS on
# Apache the drain needs _apacheio's read past mod_ssl's "aborted" (1 run in 20 before).
RACED_RUNS = {"ws": 20, "wss": 6}


@pytest.mark.parametrize("end", abrupt_client.ENDS)
def test_a_client_that_echoes_and_drops_tcp_at_once_is_judged_on_what_it_did(examples, scheme, end):
    """Its echo reaches us before its FIN or RST; whether our next write fails first must not
    matter (a failed write drains what the client sent before judging). Two clients at a time,
    each its own agent; the verdict of every run is read back at once, over the same scheme
    (the standalone server in the tests serves ws and wss from two processes)."""
    base, ssl = _base(examples, scheme), examples.client_ssl(scheme)

    def runs(worker: int) -> list[tuple[str, str, str]]:
        agent, wrong = f"abrupt-{end}-{scheme}-{worker}", []
        for case_id, verdicts in abrupt_client.RACED.items():
            number = cases.number_of(case_id)
            for _ in range(RACED_RUNS[scheme] // 2):
                abrupt_client.run_case(f"{base}/runCase?case={number}&agent={agent}", end, ssl=ssl)
                status = json.loads(
                    _one_message(examples, scheme, f"/autobahn/getCaseStatus?case={number}&agent={agent}")
                )
                if (status["behavior"], status["behaviorClose"]) != verdicts:
                    wrong.append((case_id, status["behavior"], status["behaviorClose"]))
        return wrong

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        wrong = [w for found in pool.map(runs, range(2)) for w in found]
    assert not wrong, f"{len(wrong)} runs judged wrong: {wrong[:10]}"


def test_one_slow_case_does_not_hold_up_other_clients(examples):
    """A case that waits on its client (6.4.1: two waits of a second) runs beside quick ones."""
    slow = threading.Thread(
        target=echo_client.run_case, args=(_base(examples, "ws"), cases.number_of("6.4.1"), "slow-client")
    )
    slow.start()
    for _ in range(20):
        echo_client.run_case(_base(examples, "ws"), 1, "quick-client")
    quick_ones_done_first = slow.is_alive()
    slow.join(30)
    assert not slow.is_alive()
    assert quick_ones_done_first


@pytest.fixture(scope="session")
def kosoku_reference():
    """The websockets client's verdicts from kosoku's fuzzingserver, for sections 1-7 and 10."""
    patterns = ["1.*", "2.*", "3.*", "4.*", "5.*", "6.*", "7.*", "10.*", "9.1.1", "9.2.1", "12.1.1", "13.1.1"]
    theirs = compare.run_kosoku(
        patterns, "websockets", lambda base, agent, p: echo_client.run(base, agent, p, selected=True)
    )
    return patterns, theirs["websockets"]


def test_websockets_verdicts_agree_with_kosoku(examples, kosoku_reference):
    patterns, theirs = kosoku_reference
    echo_client.run(_base(examples, "ws"), "websockets-vs-kosoku", patterns)
    ours = _http_json(examples, "/autobahn/reports/index.json")["websockets-vs-kosoku"]
    assert set(ours) == set(theirs)
    differ = compare.compare(ours, theirs)
    # Only where timing decides between two passing verdicts (README, "Testing clients").
    assert {case_id for case_id, _, _ in differ} <= compare.TIMING_DECIDED, differ
    assert len(ours) - len(differ) >= 0.97 * len(ours)


@pytest.fixture(scope="module")
def shadowing_server(request, tmp_path_factory):
    """A server whose handler folder has a handler of its own at /autobahn/getCaseCount."""
    root = tmp_path_factory.mktemp("shadowing")
    (root / "autobahn").mkdir()
    handler = root / "autobahn" / "getCaseCount_wsh.py"
    handler.write_text(
        "def web_socket_do_extra_handshake(request):\n    pass\n\n\n"
        "def web_socket_transfer_data(request):\n    request.ws_stream.send_message('mine')\n"
    )
    for path in (root.parent, root, root / "autobahn"):  # readable by the container's www-data
        os.chmod(path, 0o755)
    os.chmod(handler, 0o644)
    servers = []

    def start(kind: str, env: dict | None = None):
        server = start_server(kind, root, tmp_path_factory.mktemp(f"shadow-{kind}"), env)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.mark.parametrize("kind", ["apache", "standalone"])
def test_a_users_handler_wins_and_the_suite_can_be_turned_off(shadowing_server, kind):
    server = shadowing_server(kind, {"WS_LOG_LEVEL": "info"})
    assert _one_message(server, "ws", "/autobahn/getCaseCount") == "mine"
    assert _one_message(server, "ws", "/autobahn/getCaseInfo?case=1").startswith("{")
    deadline = time.monotonic() + 10
    while "serves this resource instead of the built-in one" not in server.logs() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "/autobahn/getCaseCount: the handler" in server.logs()
    off = shadowing_server(kind, {"WS_CLIENT_CONFORMANCE": "off"})
    with pytest.raises(Exception) as refused:
        _one_message(off, "ws", "/autobahn/getCaseInfo?case=1")
    assert "404" in str(refused.value)
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(off.url("http", "/client-conformance.html"), timeout=10)
    assert missing.value.code == 404
