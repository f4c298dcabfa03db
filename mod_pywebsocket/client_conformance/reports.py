"""The reports of client-conformance runs, in the Autobahn TestSuite's format.

One JSON file per case and agent (``<agent>_case_1_1_1.json``), written as soon as
the case ends, and on ``updateReports`` an ``index.json`` (agent -> case id ->
``behavior``, ``behaviorClose``, ``remoteCloseCode``, ``duration``, ``reportfile``)
rebuilt from those files, so every process of the server (and every earlier run
still in the folder) is in it; then the HTML pages (``report_pages``). A folder that
cannot be written costs the reports, never the run: the verdicts stay in memory
for ``getCaseStatus`` and the log says once what went wrong.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import re
import tempfile
import threading
from typing import Any

from .case import Case
from .verdicts import Outcome

_log = logging.getLogger("mod_pywebsocket.client_conformance")
_CASE_FILE = re.compile(r"([A-Za-z0-9._-]+)_case_[0-9_]+\.json")
# Agents with reports in one folder: each costs up to 517 files (a few KiB each, at most
# a few hundred with a full wire log), so clients cannot fill the disk by inventing names.
MAX_AGENTS = 32


def agent_file_name(agent: str) -> str:
    """The agent's name as it appears in file names: letters, digits, ``.``, ``_`` and ``-``."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", agent)[:80] or "agent"


def report_file_name(agent: str, case_id: str) -> str:
    return f"{agent_file_name(agent)}_case_{case_id.replace('.', '_')}.json"


def _jsonable(observation: tuple) -> list:
    """An observation for JSON: payloads as text when they are UTF-8, else as hex."""
    out: list[Any] = []
    for item in observation:
        if isinstance(item, bytes):
            try:
                out.append(item.decode("utf-8"))
            except UnicodeDecodeError:
                out.append("0x" + item.hex())
        else:
            out.append(item)
    return out


def _shorten(observations: list, limit: int = 200) -> list:
    """Long observation lists (thousands of echoes) keep their first ``limit`` entries."""
    shown = [_jsonable(o) for o in observations[:limit]]
    if len(observations) > limit:
        shown.append(["...", f"{len(observations) - limit} more"])
    return shown


def case_report(case: Case, number: int, agent: str, outcome: Outcome, details: dict[str, Any]) -> dict[str, Any]:
    """The case's JSON report. ``details``: transport, scheme, HTTP texts, logs (see ``service``)."""
    expected_close = outcome.expected_close
    return {
        "agent": agent,
        "id": case.id,
        "case": number,
        "description": case.description,
        "expectation": case.expectation,
        "behavior": outcome.behavior,
        "behaviorClose": outcome.behavior_close,
        "result": outcome.result,
        "resultClose": outcome.result_close,
        "duration": outcome.extra.get("duration_ms", 0),
        "started": details.get("started", ""),
        "transport": details.get("transport", "HTTP/1.1"),
        "scheme": details.get("scheme", "ws"),
        "isServer": True,
        "httpRequest": details.get("http_request", ""),
        "httpResponse": details.get("http_response", ""),
        "received": _shorten(outcome.received),
        "expected": {verdict: _shorten(obs) for verdict, obs in outcome.expected.items()},
        "expectedClose": None
        if expected_close is None
        else {
            "closedByMe": expected_close.closed_by_me,
            "closeCode": list(expected_close.codes),
            "requireClean": expected_close.require_clean,
        },
        "closedByMe": outcome.closed_by_me,
        "droppedByMe": outcome.dropped_by_me,
        "wasClean": outcome.was_clean,
        "remoteCloseCode": outcome.remote_close_code,
        "remoteCloseReason": outcome.remote_close_reason,
        "localCloseCode": outcome.local_close_code,
        "reportTime": case.report_time,
        "octetsSent": details.get("octets_sent", 0),
        "octetsReceived": details.get("octets_received", 0),
        "log": details.get("log", []),
        "wirelog": details.get("wirelog", []),
        "wirelogTruncated": bool(details.get("wirelog_dropped", 0)),
    }


def now_iso() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _write_json(path: str, value: Any) -> None:
    """Write atomically (a reader never sees half a file)."""
    folder = os.path.dirname(path)
    fd, temporary = tempfile.mkstemp(dir=folder, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(value, out, indent=1, ensure_ascii=False)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


class ReportStore:
    """The reports folder, plus the latest verdicts in memory (``getCaseStatus``)."""

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self._status: dict[tuple[str, str], dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._warned = False
        self._agents: set[str] | None = None  # agents' file names with reports here

    def admit(self, agent: str) -> bool:
        """Whether ``agent`` may run cases: one already reported here, or one more under ``MAX_AGENTS``."""
        name = agent_file_name(agent)
        with self._lock:
            if self._agents is None:
                try:
                    found = (_CASE_FILE.fullmatch(f) for f in os.listdir(self.directory))
                    self._agents = {m.group(1) for m in found if m}
                except OSError:
                    self._agents = set()
            if name in self._agents:
                return True
            if len(self._agents) >= MAX_AGENTS:
                return False
            self._agents.add(name)
            return True

    def save(self, report: dict[str, Any]) -> None:
        key = (report["agent"], report["id"])
        with self._lock:
            self._status[key] = {"behavior": report["behavior"], "behaviorClose": report["behaviorClose"]}
        try:
            os.makedirs(self.directory, exist_ok=True)
            _write_json(os.path.join(self.directory, report_file_name(report["agent"], report["id"])), report)
        except OSError as e:
            self._warn(e)

    def status(self, agent: str, case_id: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._status.get((agent, case_id))
        if found is not None:
            return found
        try:  # another process of the server may have run it
            with open(os.path.join(self.directory, report_file_name(agent, case_id)), encoding="utf-8") as f:
                report = json.load(f)
        except (OSError, ValueError):
            return None
        if report.get("agent") != agent:
            return None
        return {"behavior": report.get("behavior"), "behaviorClose": report.get("behaviorClose")}

    def update(self) -> str | None:
        """Rebuild ``index.json`` and the HTML pages from the case files; the index page's path."""
        from .report_pages import write_html

        try:
            os.makedirs(self.directory, exist_ok=True)
            index = self.index()
            _write_json(os.path.join(self.directory, "index.json"), index)
            page = write_html(self.directory)
        except OSError as e:
            self._warn(e)
            return None
        _log.info("client-conformance reports for %d agent(s) written to %s", len(index), page)
        return page

    def index(self) -> dict[str, dict[str, dict[str, Any]]]:
        index: dict[str, dict[str, dict[str, Any]]] = {}
        for name in sorted(os.listdir(self.directory)):
            if not _CASE_FILE.fullmatch(name):
                continue
            try:
                with open(os.path.join(self.directory, name), encoding="utf-8") as f:
                    report = json.load(f)
                agent, case_id = str(report["agent"]), str(report["id"])
            except (OSError, ValueError, KeyError, TypeError):
                continue
            index.setdefault(agent, {})[case_id] = {
                "behavior": report.get("behavior"),
                "behaviorClose": report.get("behaviorClose"),
                "remoteCloseCode": report.get("remoteCloseCode"),
                "duration": report.get("duration"),
                "reportfile": name,
                "transport": report.get("transport"),
            }
        for agent, cases in index.items():
            index[agent] = dict(sorted(cases.items(), key=lambda item: _case_key(item[0])))
        return index

    def _warn(self, error: OSError) -> None:
        if not self._warned:
            self._warned = True
            _log.warning(
                "client-conformance reports cannot be written to %s (%s); verdicts are kept in memory only",
                self.directory,
                error,
            )


def _case_key(case_id: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in case_id.split("."))
    except ValueError:
        return (1 << 30,)
