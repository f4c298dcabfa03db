"""``/connections/``: the recent WebSocket connections, with their captures (``WS_CAPTURE``).

With capture on, every connection's end writes, in the capture folder, ``<name>.json``
(its summary, the log line's fields, and its frames as a wire log). Shortly after
(``INDEX_DELAY``, once for all the connections that ended meanwhile) the overview
``index.html`` is rebuilt from the newest ``RECENT`` summaries: time, transport,
handler, origin, subprotocol, extensions, messages and bytes each way, duration, close
codes, the handler's error, each linking to its ``.pcapng`` when the store kept one and
to its page ``<name>.html`` (its frames, rendered as the client-conformance case pages
are), which is made then too, not at the connection's end: measured, that halved the
handshakes a capturing server serves. Static files, so every listener serves them the
same way (Apache by an ``Alias``, the standalone server and the HTTP/3 listener from
the folder). Several processes write the folder; each write is a whole file renamed
into place (``files.replace_file``).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from .capture import FrameRecord
from .connection_summary import ConnectionSummary
from .files import replace_file
from .report_html import _e, fields_html, load_json, opcode_name, page, show_payload, wirelog_table

#: Connections the overview lists; summaries and pages kept (older ones are deleted).
RECENT = 200
KEPT = 1000
#: Lines of one connection's wire log (its page); the rest is counted.
WIRE_LINES = 2000
_SHOWN = 64  # payload bytes shown per frame, as on the case pages


def wire_log(frames: Sequence[FrameRecord], started: float) -> tuple[list[list[Any]], int]:
    """The frames as the case pages' wire log (``[ms, "RX"|"TX", text]``: RX what the
    client sent), and how many lines were left out."""
    lines: list[list[Any]] = []
    for frame in frames[:WIRE_LINES]:
        direction = "RX" if frame.direction == "in" else "TX"
        rsv = f"{int(frame.rsv1)}{int(frame.rsv2)}{int(frame.rsv3)}"
        text = (
            f"{opcode_name(frame.opcode)} fin={int(frame.fin)} rsv={rsv} "
            f"len={frame.length}: {'compressed ' if frame.rsv1 and frame.opcode in (1, 2) else ''}"
            f"{_show(frame.opcode, frame.payload, frame.length)}"
        )
        lines.append([round((frame.time - started) * 1000, 1), direction, text])
    return lines, max(len(frames) - WIRE_LINES, 0)


def _show(opcode: int, payload: bytes, length: int) -> str:
    if opcode == 8 and len(payload) >= 2:
        code = int.from_bytes(payload[:2], "big")
        return f"code {code} {payload[2:].decode('utf-8', 'replace')!r}"
    return show_payload(payload, length, _SHOWN)


def record(directory: str, summary: ConnectionSummary, frames: Sequence[FrameRecord]) -> None:
    """Write the connection's summary and page, then the overview (see the module)."""
    name = file_name(summary)
    lines, dropped = wire_log(frames, summary.started)
    entry = summary.fields() | {"wirelog": lines, "dropped": dropped}
    try:
        os.makedirs(directory, exist_ok=True)
        replace_file(os.path.join(directory, name + ".json"), json.dumps(entry, ensure_ascii=True))
    except OSError:
        return  # a full or read-only folder: the log line still says everything
    _schedule_index(directory)


#: Seconds the overview waits for more connections to end before it is written: it reads
#: up to RECENT summaries, which measured as most of a capturing connection's cost when
#: it was written at every end (a few ms each).
INDEX_DELAY = 0.5
_pending: set[str] = set()
_pending_lock = threading.Lock()


def _schedule_index(directory: str) -> None:
    """Write ``directory``'s overview INDEX_DELAY from now, once for every connection that
    ends meanwhile (per process)."""
    with _pending_lock:
        if directory in _pending:
            return
        _pending.add(directory)
    timer = threading.Timer(INDEX_DELAY, _write_pending_index, (directory,))
    timer.daemon = True
    timer.start()


def _write_pending_index(directory: str) -> None:
    with _pending_lock:
        _pending.discard(directory)
    try:
        write_index(directory)
    except OSError:
        pass


def file_name(summary: ConnectionSummary) -> str:
    """``20261206-182034.123-c0ffee00``: sorts by time (to the millisecond); the capture's name too."""
    started = summary.started
    return f"{time.strftime('%Y%m%d-%H%M%S', time.gmtime(started))}.{int(started % 1 * 1000):03d}-{summary.connection}"


def connection_page(entry: dict[str, Any]) -> str:
    g = entry.get
    rows = [
        ("Connection", _e(g("connection"))),
        ("Started", _e(_when(g("started")))),
        ("Transport", _e(g("transport"))),
        ("Resource", _e(g("resource"))),
        ("Handler", _e(g("handler"))),
        ("Peer", _e(g("peer"))),
        ("Server", _e(g("local"))),
        ("Origin", _e(g("origin"))),
        ("Subprotocol", _e(g("subprotocol"))),
        ("Extensions", _e(g("extensions"))),
        ("Received", f"{_e(g('messages_in'))} messages, {_e(g('bytes_in'))} bytes"),
        ("Sent", f"{_e(g('messages_out'))} messages, {_e(g('bytes_out'))} bytes"),
        ("Duration", f"{float(g('duration') or 0):.3f} s"),
        ("Outcome", _e(g("outcome"))),
        ("Client's close", _e(g("close_in"))),
        ("Server's close", _e(g("close_out"))),
        ("Handler error", _e(g("error"))),
        ("Capture", _capture_link(g("capture"))),
    ]
    dropped = int(g("dropped") or 0)
    note = f"<p>{dropped} more frames are in the capture only.</p>" if dropped else ""
    body = (
        '<p><a href="index.html">&larr; all connections</a></p>\n'
        f"<h1>Connection {_e(g('connection'))} &mdash; {_e(g('resource'))}</h1>\n{fields_html(rows)}\n"
        "<h2>Frames</h2><p>RX: what the client sent; TX: what the server sent.</p>"
        f"{wirelog_table(g('wirelog'), bool(dropped))}{note}"
    )
    return page(f"Connection {g('connection')}", body)


def write_index(directory: str) -> None:
    """The overview of the newest ``RECENT`` connections; summaries past ``KEPT`` deleted."""
    listed = os.listdir(directory)
    pages = {n for n in listed if n.endswith(".html")}
    names = sorted((n for n in listed if n.endswith(".json")), reverse=True)
    for old in names[KEPT:]:
        for suffix in (".json", ".html"):
            _remove(os.path.join(directory, old[: -len(".json")] + suffix))
    rows = []
    for name in names[:RECENT]:
        entry = load_json(os.path.join(directory, name))
        if not isinstance(entry, dict):
            continue
        stem = name[: -len(".json")]
        rows.append(_index_row(stem, entry))
        if stem + ".html" not in pages:  # its page is made with the overview, not at its end
            replace_file(os.path.join(directory, stem + ".html"), connection_page(entry))
    head = (
        "<tr><th>started (UTC)</th><th>transport</th><th>resource</th><th>handler</th><th>origin</th>"
        "<th>subprotocol</th><th>extensions</th><th>in</th><th>out</th><th>duration</th>"
        "<th>close in / out</th><th>error</th><th>capture</th></tr>"
    )
    table = f"<table>{head}{''.join(rows)}</table>" if rows else "<p>No connections yet.</p>"
    body = (
        "<h1>Recent WebSocket connections</h1>\n"
        f"<p>The newest {RECENT} first; each links to its frames and, when kept, its capture (pcapng, "
        "for Wireshark).</p>\n" + table
    )
    replace_file(os.path.join(directory, "index.html"), page("Recent WebSocket connections", body))


def _index_row(name: str, entry: dict[str, Any]) -> str:
    g = entry.get
    css = "failed" if g("error") else ("ok" if g("outcome") == "closed" else "wrong")
    cells = [
        f'<a href="{quote(name)}.html">{_e(_when(g("started")))}</a>',
        _e(g("transport")),
        _e(g("resource")),
        _e(os.path.basename(str(g("handler") or ""))),
        _e(g("origin")),
        _e(g("subprotocol")),
        _e(g("extensions")),
        f"{_e(g('messages_in'))} msg / {_e(g('bytes_in'))} B",
        f"{_e(g('messages_out'))} msg / {_e(g('bytes_out'))} B",
        f"{float(g('duration') or 0):.3f} s",
        f'<span class="badge {css}">{_e(g("close_in") or "-")} / {_e(g("close_out") or "-")}</span>',
        _e(g("error")),
        _capture_link(g("capture")),
    ]
    return "<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


def _capture_link(capture: Any) -> str:
    if not isinstance(capture, str) or "/" in capture or not capture.endswith(".pcapng"):
        return ""
    return f'<a href="{quote(capture)}">{_e(capture)}</a>'


def _when(started: Any) -> str:
    if not isinstance(started, (int, float)):
        return ""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(started)) + f".{int(started % 1 * 1000):03d}"


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass
