"""The reports' HTML: the page frame and style, escaping, and the wire-log table.

Shared by the client-conformance pages (``client_conformance.report_pages``) and the
recent connections' pages (``connections_page``). Everything shown comes from clients,
so all of it is escaped.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from html import escape
from typing import Any

MAX_SHOWN = 4000  # characters of one payload or wire-log line shown on a page

CSS = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; }
th, td { border: 1px solid #ccc; padding: 3px 6px; text-align: left; vertical-align: top; }
th.section { background: #444; color: #fff; }
th.subsection { background: #e4e4e4; }
pre { background: #f6f6f6; padding: 6px; white-space: pre-wrap; word-break: break-all; margin: 0; }
a { color: inherit; }
.ok { background: #2e9e44; color: #fff; }
.nonstrict { background: #a6dc8a; }
.failed { background: #d62f2f; color: #fff; }
.wrong { background: #f0a030; }
.info { background: #4a7fd4; color: #fff; }
.unimpl { background: #9a9a9a; color: #fff; }
.missing { background: #fff; color: #999; }
.close { font-size: 75%; padding: 0 3px; margin-left: 4px; border-radius: 3px; }
.ms { font-size: 80%; opacity: 0.85; margin-left: 4px; }
.badge { display: inline-block; padding: 0 4px; margin: 1px; border-radius: 3px; }
.TX { color: #05a; } .RX { color: #a50; }
dl { display: grid; grid-template-columns: max-content auto; gap: 2px 12px; }
dt { font-weight: bold; } dd { margin: 0; }
"""


def _e(value: Any) -> str:
    """HTML-escaped text of any value (None as empty)."""
    return "" if value is None else escape(str(value), quote=True)


#: Opcode names in wire logs.
OPCODE_NAMES = {0: "continuation", 1: "text", 2: "binary", 8: "close", 9: "ping", 10: "pong"}


def opcode_name(opcode: int) -> str:
    return OPCODE_NAMES.get(opcode, f"opcode {opcode}")


def fields_html(pairs: Iterable[tuple[str, Any]]) -> str:
    """Name and value pairs as a definition list (names escaped, values already HTML)."""
    rows = "".join(f"<dt>{_e(k)}</dt><dd>{v}</dd>" for k, v in pairs)
    return f"<dl>{rows}</dl>"


def load_json(path: str) -> Any:
    """A JSON file's value; None when it cannot be read or parsed."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def page(title: str, body: str) -> str:
    """A self-contained page in the reports' style (also ``/connections/``'s)."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{_e(title)}</title><style>{CSS}</style></head>\n<body>\n{body}\n</body></html>\n"
    )


def _short(text: Any) -> str:
    """A value as text, cut to MAX_SHOWN characters."""
    s = text if isinstance(text, str) else json.dumps(text, ensure_ascii=False)
    return s if len(s) <= MAX_SHOWN else f"{s[:MAX_SHOWN]}… ({len(s) - MAX_SHOWN} more characters)"


def show_payload(payload: bytes, length: int, shown: int) -> str:
    """A frame's payload in a wire log: its first ``shown`` bytes as text when they are
    UTF-8, else as hex, and `` ...`` when the frame (``length`` bytes) has more."""
    if not length:
        return "(empty)"
    head = payload[:shown]
    try:
        text = repr(head.decode("utf-8"))
    except UnicodeDecodeError:
        text = head.hex(" ")
    return text + (" ..." if length > len(head) else "")


def wirelog_table(lines: Any, truncated: bool = False) -> str:
    """A wire log (``[ms, "TX"|"RX", text]`` lines) as a table; also ``/connections/``'s."""
    if not isinstance(lines, list) or not lines:
        return "<p>(empty)</p>"
    rows = []
    for line in lines:
        ms, direction, text = (line + [None] * 3)[:3] if isinstance(line, list) else (None, None, line)
        css = direction if direction in ("TX", "RX") else ""
        rows.append(
            f'<tr><td>{_e(ms)}</td><td class="{css}">{_e(direction)}</td><td><pre>{_e(_short(text))}</pre></td></tr>'
        )
    note = "<p><em>The wire log was cut short.</em></p>" if truncated else ""
    return f"<table><tr><th>ms</th><th>dir</th><th>data</th></tr>{''.join(rows)}</table>{note}"
