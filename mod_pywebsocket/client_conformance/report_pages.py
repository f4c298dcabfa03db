"""The HTML face of the client-conformance reports: an overview table and one page per case run.

``write_html(reports_dir)`` reads the JSON the server wrote there (``index.json``, in
the Autobahn TestSuite's report format, and the per-case files it names) and writes
``index.html`` next to them: one row per case, grouped by section, one column per
agent, each cell the verdict in its colour with a link to the case's own page
(``<case file>.html``); and ``matrix.html``, the same cases by engine and transport
(``report_matrix``). The pages are self-contained (inline CSS, no scripts, nothing
fetched). Everything shown comes from clients (agent names, payloads, close reasons),
so all of it is escaped; case files are only read by plain names, never by paths.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import quote

from ..runtime.files import replace_file
from ..runtime.report_html import _e, _short, fields_html, load_json, page, wirelog_table

#: Verdict label -> CSS class (colour).
VERDICT_CLASSES = {
    "OK": "ok",
    "NON-STRICT": "nonstrict",
    "FAILED": "failed",
    "FAILED BY CLIENT": "failed",
    "WRONG CODE": "wrong",
    "UNCLEAN": "wrong",
    "INFORMATIONAL": "info",
    "UNIMPLEMENTED": "unimpl",
}
BEHAVIORS = ("OK", "NON-STRICT", "FAILED", "INFORMATIONAL", "UNIMPLEMENTED")
SECTION_TITLES = {
    "1": "Framing",
    "2": "Pings and pongs",
    "3": "Reserved bits",
    "4": "Opcodes",
    "5": "Fragmentation",
    "6": "UTF-8 handling",
    "7": "Close handling",
    "9": "Limits and performance",
    "10": "Miscellaneous",
    "12": "permessage-deflate: payloads",
    "13": "permessage-deflate: parameters",
}


def _yes(value: Any) -> str:
    return "?" if value is None else ("yes" if value else "no")


def _side(server: Any) -> str:
    """Which end a ``closedByMe``/``droppedByMe`` flag names."""
    return "?" if server is None else ("server" if server else "client")


def _cls(verdict: Any) -> str:
    return VERDICT_CLASSES.get(str(verdict), "missing")


def _safe_name(name: Any) -> bool:
    """Whether a report file name from index.json may be opened: a plain ``*.json`` name in the directory."""
    return (
        isinstance(name, str)
        and name.endswith(".json")
        and name not in (".json", "index.json")
        and not any(bad in name for bad in ("/", "\\", "..", "\0", ":"))
    )


def _page_name(report_file: str) -> str:
    return report_file[: -len(".json")] + ".html"


def _id_key(case_id: str) -> tuple[tuple[int, str], ...]:
    """Sort key putting ids in the suite's order (numerically, part by part)."""
    return tuple((int(p), "") if p.isdigit() else (1 << 30, p) for p in str(case_id).split("."))


# -- the per-case pages ----------------------------------------------------------------


def _verdict_html(verdict: Any, reason: Any) -> str:
    return f'<span class="badge {_cls(verdict)}">{_e(verdict)}</span> {_e(reason)}'


def _observations(items: Any) -> str:
    if not isinstance(items, list) or not items:
        return "<pre>(nothing)</pre>"
    return "<pre>" + "\n".join(_e(_short(item)) for item in items) + "</pre>"


def _expected_html(expected: Any) -> str:
    if not isinstance(expected, dict) or not expected:
        return "<p>(none)</p>"
    parts = [f"<h3>{_e(label)}</h3>{_observations(items)}" for label, items in expected.items()]
    return "".join(parts)


def _wirelog_html(report: dict[str, Any]) -> str:
    return wirelog_table(report.get("wirelog"), bool(report.get("wirelogTruncated")))


def _case_page(report: dict[str, Any]) -> str:
    g = report.get
    expected_close = g("expectedClose") if isinstance(g("expectedClose"), dict) else {}
    summary = fields_html(
        [
            ("Agent", _e(g("agent"))),
            ("Case", f"{_e(g('id'))} (number {_e(g('case'))})"),
            ("Description", _e(g("description"))),
            ("Expectation", _e(g("expectation"))),
            ("Behaviour", _verdict_html(g("behavior"), g("result"))),
            ("Close behaviour", _verdict_html(g("behaviorClose"), g("resultClose"))),
            ("Duration", f"{_e(g('duration'))} ms"),
            ("Started", _e(g("started"))),
            ("Transport", f"{_e(g('transport'))} ({_e(g('scheme'))})"),
            ("Duration reported", _yes(g("reportTime"))),
        ]
    )
    close = fields_html(
        [
            ("Expected to close first", _side(expected_close.get("closedByMe"))),
            ("Expected close codes", _e(", ".join(map(str, expected_close.get("closeCode") or [])))),
            ("Clean close required", _yes(expected_close.get("requireClean"))),
            ("Closed first by", _side(g("closedByMe"))),
            ("TCP dropped by", _side(g("droppedByMe"))),
            ("Clean", _yes(g("wasClean"))),
            ("Client's close code", _e(g("remoteCloseCode"))),
            ("Client's close reason", _e(g("remoteCloseReason"))),
            ("Server's close code", _e(g("localCloseCode"))),
            ("Server's close reason", _e(g("localCloseReason"))),
        ]
    )
    log = g("log") if isinstance(g("log"), list) else []
    log_text = "\n".join(_e(_short(line)) for line in log) or "(empty)"
    body = f"""<p><a href="index.html">&larr; all cases</a></p>
<h1>Case {_e(g("id"))} &mdash; {_e(g("agent"))}</h1>
{summary}
<h2>Opening handshake</h2>
<h3>Request</h3><pre>{_e(g("httpRequest"))}</pre>
<h3>Response</h3><pre>{_e(g("httpResponse"))}</pre>
<h2>Expected</h2>{_expected_html(g("expected"))}
<h2>Received</h2>{_observations(g("received"))}
<h2>Closing</h2>{close}
<h2>Script log</h2><pre>{log_text}</pre>
<h2>Wire log</h2>{_wirelog_html(report)}"""
    return page(f"Case {g('id')} - {g('agent')}", body)


# -- the overview ----------------------------------------------------------------------


def _transports(reports: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Agent -> the transports (and schemes) its case files say it ran over."""
    seen: dict[str, set[str]] = {}
    for (agent, _case_id), report in reports.items():
        label = " ".join(str(report.get(k)) for k in ("transport", "scheme") if report.get(k))
        if label:
            seen.setdefault(agent, set()).add(label)
    return {agent: ", ".join(sorted(labels)) for agent, labels in seen.items()}


def _summary_row(index: dict[str, dict[str, Any]], agents: list[str]) -> str:
    cells = []
    for agent in agents:
        counts: dict[str, int] = {}
        for entry in index[agent].values():
            verdict = str(entry.get("behavior")) if isinstance(entry, dict) else "?"
            counts[verdict] = counts.get(verdict, 0) + 1
        cells.append(f"<td>{_count_badges(counts)}</td>")
    return f"<tr><th>Summary</th>{''.join(cells)}</tr>"


def _count_badges(counts: dict[str, int]) -> str:
    """Verdict counts as badges, in the suite's order of verdicts."""
    order = [v for v in BEHAVIORS if v in counts] + sorted(v for v in counts if v not in BEHAVIORS)
    return "".join(f'<span class="badge {_cls(v)}">{_e(v)}&nbsp;{counts[v]}</span> ' for v in order)


def _verdicts_text(entry: dict[str, Any], linked: bool) -> str:
    """A cell's behaviour verdict (linked to the case's page) and a close verdict other than OK."""
    behavior, close = entry.get("behavior"), entry.get("behaviorClose")
    text = _e(behavior)
    if linked:
        text = f'<a href="{_e(quote(_page_name(entry["reportfile"])))}">{text}</a>'
    if close not in (None, "OK"):
        text += f'<span class="close {_cls(close)}">{_e(close)}</span>'
    return text


def _cell(entry: Any, linked: bool) -> str:
    if not isinstance(entry, dict):
        return '<td class="missing">&ndash;</td>'
    behavior = entry.get("behavior")
    text = _verdicts_text(entry, linked)
    if entry.get("duration") is not None:
        text += f'<span class="ms">{_e(entry.get("duration"))}&nbsp;ms</span>'
    return f'<td class="{_cls(behavior)}">{text}</td>'


def _table(index: dict[str, dict[str, Any]], linked: set[tuple[str, str]], transports: dict[str, str]) -> str:
    agents = sorted(index)
    case_ids = sorted({cid for cases in index.values() for cid in cases}, key=_id_key)
    head = "".join(f"<th>{_e(a)}<br><small>{_e(transports.get(a, ''))}</small></th>" for a in agents)
    rows = [f"<tr><th>Case</th>{head}</tr>", _summary_row(index, agents)]
    span = len(agents) + 1
    section = subsection = None
    for cid in case_ids:
        parts = str(cid).split(".")
        if parts[0] != section:
            section = parts[0]
            title = SECTION_TITLES.get(section, "")
            rows.append(f'<tr><th class="section" colspan="{span}">{_e(section)} {_e(title)}</th></tr>')
        if len(parts) > 2 and ".".join(parts[:2]) != subsection:
            subsection = ".".join(parts[:2])
            rows.append(f'<tr><th class="subsection" colspan="{span}">{_e(subsection)}</th></tr>')
        cells = "".join(_cell(index[a].get(cid), (a, cid) in linked) for a in agents)
        rows.append(f"<tr><th>{_e(cid)}</th>{cells}</tr>")
    return "<table>\n" + "\n".join(rows) + "\n</table>"


def _read_index(reports_dir: str) -> dict[str, dict[str, Any]]:
    index = load_json(os.path.join(reports_dir, "index.json"))
    if not isinstance(index, dict):
        return {}
    return {str(agent): cases for agent, cases in index.items() if isinstance(cases, dict)}


def write_html(reports_dir: str) -> str:
    """Write ``index.html`` and one page per case report in ``reports_dir``; return index.html's path."""
    index = _read_index(reports_dir)
    reports: dict[tuple[str, str], dict[str, Any]] = {}
    for agent, cases in index.items():
        for case_id, entry in cases.items():
            name = entry.get("reportfile") if isinstance(entry, dict) else None
            if not _safe_name(name):
                continue
            report = load_json(os.path.join(reports_dir, name))
            if isinstance(report, dict):
                reports[(agent, case_id)] = report
                replace_file(os.path.join(reports_dir, _page_name(name)), _case_page(report))
    from .report_matrix import matrix_html  # it builds on this module's helpers

    replace_file(os.path.join(reports_dir, "matrix.html"), matrix_html(index, set(reports)))
    body = (
        "<h1>WebSocket client conformance</h1>\n"
        "<p>The Autobahn TestSuite's client cases, run by this server. Each cell links to the case's report. "
        '<a href="matrix.html">The matrix</a>: engines &times; transports, and where they disagree.</p>\n'
        + (_table(index, set(reports), _transports(reports)) if index else "<p>No results yet.</p>")
    )
    path = os.path.join(reports_dir, "index.html")
    replace_file(path, page("WebSocket client conformance", body))
    return path
