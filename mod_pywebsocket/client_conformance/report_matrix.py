"""The matrix view of the client-conformance reports: cases x (engine, transport).

Agents named the way ``make client-conformance`` names them, ``ENGINE-VERSION-TRANSPORT``
(``firefox-153-h2``, ``chromium-156-ws``), are grouped by engine and version, a column
per transport under each; any other agent name is a column of its own. A summary row
counts each column's verdicts and the cases that ran over another transport than the
column's (the index's per-case ``transport``: a WebSocket the browser put on HTTP/1.1
although the page came over HTTP/2, say). A checkbox keeps only the rows where the
columns disagree, in CSS alone: the page has no scripts, like the others.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .report_pages import _cls, _count_badges, _e, _id_key, _verdicts_text, page

#: A column's transport label -> the HTTP version its cases must run over.
TRANSPORT_HTTP = {"ws": "HTTP/1.1", "wss": "HTTP/1.1", "h2": "HTTP/2", "h3": "HTTP/3"}
_AGENT = re.compile(r"^(?P<engine>[A-Za-z][\w.]*?)-(?P<version>\d[\w.]*)-(?P<transport>ws|wss|h2|h3)$")

MATRIX_CSS = """
#only-differ:checked ~ table tr.same { display: none; }
th.engine { background: #444; color: #fff; text-align: center; }
.elsewhere { outline: 3px dashed #000; outline-offset: -3px; }
.flag { font-size: 75%; margin-left: 4px; }
"""


@dataclass(frozen=True)
class Column:
    agent: str
    engine: str
    transport: str  # "" when the agent's name does not say

    @property
    def http(self) -> str | None:
        return TRANSPORT_HTTP.get(self.transport)


def column_of(agent: str) -> Column:
    """The column an agent's results go in: its engine (with version) and transport, from its name."""
    m = _AGENT.match(agent)
    if m is None:
        return Column(agent, agent, "")
    return Column(agent, f"{m['engine']}-{m['version']}", m["transport"])


def ran_elsewhere(column: Column, entry: Any) -> bool:
    """Whether a case ran over another transport than its column's."""
    return (
        column.http is not None
        and isinstance(entry, dict)
        and entry.get("transport") is not None
        and entry.get("transport") != column.http
    )


def _columns(index: dict[str, dict[str, Any]]) -> list[Column]:
    order = {"ws": 0, "wss": 1, "h2": 2, "h3": 3, "": 4}
    return sorted((column_of(a) for a in index), key=lambda c: (c.engine, order[c.transport], c.agent))


def _summary(index: dict[str, dict[str, Any]], columns: list[Column]) -> str:
    cells = []
    for column in columns:
        counts: dict[str, int] = {}
        elsewhere = 0
        for entry in index[column.agent].values():
            verdict = str(entry.get("behavior")) if isinstance(entry, dict) else "?"
            counts[verdict] = counts.get(verdict, 0) + 1
            elsewhere += ran_elsewhere(column, entry)
        badges = _count_badges(counts)
        if column.http is not None:
            own = len(index[column.agent]) - elsewhere
            badges += f"<br><small>{own} of {len(index[column.agent])} over {_e(column.http)}</small>"
        cells.append(f"<td>{badges}</td>")
    return f"<tr><th>Summary</th>{''.join(cells)}</tr>"


def _cell(column: Column, entry: Any, linked: bool) -> str:
    if not isinstance(entry, dict):
        return '<td class="missing">&ndash;</td>'
    text = _verdicts_text(entry, linked)
    css = _cls(entry.get("behavior"))
    if ran_elsewhere(column, entry):
        css += " elsewhere"
        text += f'<span class="flag">over {_e(entry.get("transport"))}</span>'
    return f'<td class="{css}">{text}</td>'


def _verdicts(index: dict[str, dict[str, Any]], columns: list[Column], case_id: str) -> set[tuple[Any, Any]]:
    seen = set()
    for column in columns:
        entry = index[column.agent].get(case_id)
        if isinstance(entry, dict):
            seen.add((entry.get("behavior"), entry.get("behaviorClose")))
    return seen


def matrix_html(index: dict[str, dict[str, Any]], linked: set[tuple[str, str]]) -> str:
    """The whole matrix page for ``index`` (agent -> case id -> entry)."""
    columns = _columns(index)
    engines: list[tuple[str, int]] = []
    for column in columns:
        if engines and engines[-1][0] == column.engine:
            engines[-1] = (column.engine, engines[-1][1] + 1)
        else:
            engines.append((column.engine, 1))
    head1 = "".join(f'<th class="engine" colspan="{n}">{_e(engine)}</th>' for engine, n in engines)
    head2 = "".join(f"<th>{_e(c.transport or c.agent)}</th>" for c in columns)
    rows = [f'<tr><th rowspan="2">Case</th>{head1}</tr>', f"<tr>{head2}</tr>", _summary(index, columns)]
    case_ids = sorted({cid for cases in index.values() for cid in cases}, key=_id_key)
    differing = 0
    for cid in case_ids:
        same = len(_verdicts(index, columns, cid)) <= 1
        differing += not same
        cells = "".join(_cell(c, index[c.agent].get(cid), (c.agent, cid) in linked) for c in columns)
        rows.append(f'<tr class="{"same" if same else "differ"}"><th>{_e(cid)}</th>{cells}</tr>')
    body = f"""<p><a href="index.html">&larr; the table by agent</a></p>
<h1>WebSocket client conformance: engines &times; transports</h1>
<p>Each column is one agent's run; the column heads group them by engine. A dashed outline
marks a case that ran over another transport than its column's.</p>
<input type="checkbox" id="only-differ"> <label for="only-differ">only the {differing} cases where
the columns' verdicts differ</label>
<table>
{chr(10).join(rows)}
</table>"""
    return page("WebSocket client conformance: matrix", body).replace("</style>", MATRIX_CSS + "</style>", 1)
