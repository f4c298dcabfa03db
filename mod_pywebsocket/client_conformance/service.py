"""The fuzzingserver URL API at ``/autobahn``, as built-in handler suites.

Exactly the Autobahn TestSuite's contract, so its browser page and harnesses work
unchanged (N is a 1-based case number in the suite's order):

* ``<base>/getCaseCount``: one text message, the number of cases;
* ``<base>/getCaseInfo?case=N``: one text message, JSON ``{"id", "description"}``;
* ``<base>/runCase?case=N&agent=A`` (or ``casetuple=1.2.3``): the case itself;
* ``<base>/getCaseStatus?case=N&agent=A``: JSON ``{"behavior"}`` of the last run (here
  also ``behaviorClose`` and ``transport``, "HTTP/1.1", "HTTP/2" or "HTTP/3": what that run's
  WebSocket came over, so that a page loaded over HTTP/2 can tell the cases its
  browser put on HTTP/1.1);
* ``<base>/updateReports?agent=A``: writes the reports (with A's runs still being judged,
  once they end), then closes.

The dispatcher serves these only where no handler file of the user's has the same
resource (theirs wins; it logs that once). A request it cannot serve (no such case,
no agent) gets a close with 1008 and a reason saying what is wrong.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from urllib.parse import parse_qs

from ..core import constants
from ..core.deflate import PerMessageDeflate, PerMessageDeflateExtensionProcessor
from ..runtime.connection_summary import http_version
from ..runtime.handler_files import HandlerSuite
from ..runtime.interfaces import TimedConnection
from . import cases
from .case import Case, DeflateOffer
from .reports import MAX_AGENTS, ReportStore, case_report, now_iso, report_file_name
from .session import LiveSession

BASE = "/autobahn"
_log = logging.getLogger("mod_pywebsocket.client_conformance")
_AGENT = re.compile(r"[^\x00-\x1f\x7f]{1,100}")


class _BadRequest(Exception):
    pass


def _query(request) -> dict[str, str]:
    query = request.ws_resource.partition("?")[2]
    return {k: v[0] for k, v in parse_qs(query, keep_blank_values=True).items()}


def _case_from(query: dict[str, str]) -> tuple[int, Case]:
    if "casetuple" in query:
        case = cases.by_id(query["casetuple"].strip())
        if case is None:
            raise _BadRequest(f"no case {query['casetuple'][:20]!r}")
        return cases.number_of(case.id), case
    text = query.get("case", "")
    case = cases.by_number(int(text)) if text.isdigit() else None
    if case is None:
        raise _BadRequest(f"no case {text[:20]!r}: cases are 1 to {len(cases.all_cases())}")
    return int(text), case


def _agent_from(query: dict[str, str]) -> str:
    agent = query.get("agent", "").strip()
    if not _AGENT.fullmatch(agent):
        raise _BadRequest("say which client this is: agent=NAME (1 to 100 printable characters)")
    return agent


def _case_and_agent(request) -> tuple[int, Case, str]:
    query = _query(request)
    number, case = _case_from(query)
    return number, case, _agent_from(query)


def _refuse(request, error: _BadRequest) -> None:
    _log.info("%s: %s", request.ws_resource, error)
    request.ws_stream.close_connection(constants.STATUS_POLICY_VIOLATION, str(error)[:120])


def _no_extensions(request) -> None:
    """The URL API's helper endpoints, and cases that do not compress, decline every extension."""
    for processor in request.ws_extension_processors or ():
        processor.set_active(False)


def _offer(processor) -> DeflateOffer:
    params = dict(processor.request().get_parameters())
    client_bits = params.get("client_max_window_bits", False)
    server_bits = params.get("server_max_window_bits")
    return DeflateOffer(
        server_no_context_takeover="server_no_context_takeover" in params,
        client_no_context_takeover="client_no_context_takeover" in params,
        server_max_window_bits=int(server_bits) if server_bits and server_bits.isdigit() else None,
        client_max_window_bits=True if client_bits is None else (int(client_bits) if client_bits else False),
    )


#: Seconds getCaseStatus waits for a run of that case still being judged.
STATUS_WAIT = 10.0


def builtin_suites(enabled: bool, reports_dir: str) -> dict[str, HandlerSuite] | None:
    """What both adapters pass as ``Dispatcher(builtin_suites=...)``: the suite's endpoints, or None when off."""
    return ClientConformance(reports_dir).suites() if enabled else None


class ClientConformance:
    """The suite's state in one server process: the reports and the latest verdicts."""

    def __init__(self, reports_dir: str) -> None:
        self.store = ReportStore(reports_dir)
        self._warned_untimed = False
        # (agent, case id) -> set once the run's report is saved. The client sees the
        # closing handshake before the server has judged it and saved the report, and
        # asks getCaseStatus at once (over HTTP/2, 1 page load in 4 asked too early for
        # one of 12 cases): the answer waits for the run in progress.
        self._running: dict[tuple[str, str], threading.Event] = {}
        self._running_lock = threading.Lock()
        # (agent, case id) -> the transport of that case's last run here, for getCaseStatus.
        self._transports: dict[tuple[str, str], str] = {}

    def suites(self) -> dict[str, HandlerSuite]:
        """The built-in resources and their handlers, for ``Dispatcher(builtin_suites=...)``."""
        path = "<built-in client-conformance suite>"

        def suite(transfer, extra=_no_extensions) -> HandlerSuite:
            return HandlerSuite(extra, transfer, None, path)

        return {
            f"{BASE}/getCaseCount": suite(self._case_count),
            f"{BASE}/getCaseInfo": suite(self._case_info),
            f"{BASE}/runCase": suite(self._run_case, self._negotiate),
            f"{BASE}/getCaseStatus": suite(self._case_status),
            f"{BASE}/updateReports": suite(self._update_reports),
        }

    # -- the endpoints --------------------------------------------------------

    def _case_count(self, request) -> None:
        request.ws_stream.send_message(str(len(cases.all_cases())))

    def _case_info(self, request) -> None:
        try:
            _, case = _case_from(_query(request))
        except _BadRequest as e:
            return _refuse(request, e)
        request.ws_stream.send_message(json.dumps({"id": case.id, "description": case.description}))

    def _case_status(self, request) -> None:
        try:
            _, case, agent = _case_and_agent(request)
        except _BadRequest as e:
            return _refuse(request, e)
        with self._running_lock:
            running = self._running.get((agent, case.id))
        if running is not None:
            running.wait(STATUS_WAIT)
        status = dict(self.store.status(agent, case.id) or {"behavior": None, "behaviorClose": None})
        status["transport"] = self._transport_of(agent, case.id)  # a field of our own: Autobahn's stay as they are
        request.ws_stream.send_message(json.dumps(status))

    def _transport_of(self, agent: str, case_id: str) -> str | None:
        """The transport of the case's last run: from memory, else from its report (another process ran it)."""
        with self._running_lock:
            found = self._transports.get((agent, case_id))
        if found is not None:
            return found
        try:
            with open(os.path.join(self.store.directory, report_file_name(agent, case_id)), encoding="utf-8") as f:
                report = json.load(f)
        except (OSError, ValueError):
            return None
        transport = report.get("transport") if isinstance(report, dict) and report.get("agent") == agent else None
        return transport if isinstance(transport, str) else None

    def _update_reports(self, request) -> None:
        # The agent's runs still being judged go in too (a client may ask as soon as it has
        # sent its last close, before our side of that run has ended: HTTP/2 streams do).
        agent = _query(request).get("agent", "").strip()
        with self._running_lock:
            running = [done for (who, _), done in self._running.items() if who == agent]
        deadline = time.monotonic() + STATUS_WAIT
        for done in running:
            done.wait(max(deadline - time.monotonic(), 0))
        page = self.store.update()
        if page is None:
            request.ws_stream.close_connection(constants.STATUS_INTERNAL_ENDPOINT_ERROR, "reports not written")

    def _negotiate(self, request) -> None:
        """runCase's handshake: permessage-deflate as the case chooses among the client's offers."""
        processors = [
            p for p in request.ws_extension_processors or () if isinstance(p, PerMessageDeflateExtensionProcessor)
        ]
        _no_extensions(request)
        try:
            _, case = _case_from(_query(request))
        except _BadRequest:
            return  # refused once the connection is open, with a reason the client can read
        if case.deflate is None or not processors:
            return
        offers = [_offer(p) for p in processors]
        accept = case.deflate(offers)
        if accept is None:
            return
        processor = processors[offers.index(accept.offer)]
        processor.set_active(True)
        processor.rfc_parameters = True  # the cases decide, whatever the server's profile
        if accept.client_no_context_takeover:
            processor.set_client_no_context_takeover(True)
        if accept.client_max_window_bits is not None:
            processor.set_client_max_window_bits(accept.client_max_window_bits)

    def _run_case(self, request) -> None:
        try:
            number, case, agent = _case_and_agent(request)
        except _BadRequest as e:
            return _refuse(request, e)
        if not self.store.admit(agent):
            _log.warning(
                "client conformance: %d agents already have reports in %s; refusing a new one (%r)",
                MAX_AGENTS,
                self.store.directory,
                agent[:40],
            )
            return _refuse(request, _BadRequest(f"{MAX_AGENTS} agents have reports already: remove some"))
        if not isinstance(request.connection, TimedConnection) and not self._warned_untimed:
            self._warned_untimed = True
            _log.warning("client conformance: this connection cannot time its reads; waits end only on traffic")
        codec = None
        for processor in request.ws_extension_processors or ():
            if processor.is_active() and request.ws_extensions and processor.codec() is not None:
                codec = _fast_codec(processor.codec())
        key, done = (agent, case.id), threading.Event()
        with self._running_lock:
            self._running[key] = done
        try:
            self._run_and_save(request, number, case, agent, codec)
        finally:
            done.set()
            with self._running_lock:
                if self._running.get(key) is done:
                    del self._running[key]

    def _run_and_save(self, request, number: int, case: Case, agent: str, codec) -> None:
        started = now_iso()
        transport = http_version(request)
        session = LiveSession(case, request.connection, codec)
        _log.info("case %s (%d) for %s starts", case.id, number, agent)
        outcome = session.run()
        request.server_terminated = True  # the session did the closing: the dispatcher adds nothing
        report = case_report(
            case,
            number,
            agent,
            outcome,
            {
                "started": started,
                "transport": transport,
                "scheme": "wss" if request.is_https() else "ws",
                "http_request": _request_text(request),
                "http_response": _response_text(request),
                "log": session.script_log,
                "wirelog": session.wire_log,
                "wirelog_dropped": session.wire_dropped,
                "octets_sent": session.octets_sent,
                "octets_received": session.octets_received,
            },
        )
        with self._running_lock:
            self._transports[(agent, case.id)] = transport
        self.store.save(report)
        _log.info("case %s for %s: %s / %s", case.id, agent, outcome.behavior, outcome.behavior_close)


def _fast_codec(negotiated: PerMessageDeflate) -> PerMessageDeflate:
    """The negotiated parameters with zlib's fastest level: sections 12 and 13 send 1000
    messages of up to 128 KiB, and level 6 spends up to 20 ms on one of them (measured
    on the prose data set), longer than a browser takes to echo it. The ratio is not
    judged; the parameters (context takeover, window) are what the cases test."""
    return PerMessageDeflate(
        server_no_context_takeover=negotiated.server_no_context_takeover,
        client_no_context_takeover=negotiated.client_no_context_takeover,
        server_max_window_bits=negotiated.server_max_window_bits,
        compress_level=1,
    )


def _request_text(request) -> str:
    lines = [f"{request.method} {request.unparsed_uri} {request.protocol}"]
    try:
        lines += [f"{k}: {v}" for k, v in request.headers_in.items()]
    except Exception:  # an embedder's header table without items()
        pass
    return "\n".join(lines)


def _response_text(request) -> str:
    lines = ["101 Switching Protocols" if http_version(request) == "HTTP/1.1" else ":status 200"]
    if request.ws_extensions:
        from ..core.headers import format_extensions

        lines.append(f"Sec-WebSocket-Extensions: {format_extensions(request.ws_extensions)}")
    return "\n".join(lines)
