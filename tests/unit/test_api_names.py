"""Every name in docs/handlers.md's table of the handler API imports, under ``mod_pywebsocket``
and under ``pywebsocket3`` (as a handler file sees it), whatever moved underneath."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from mod_pywebsocket.runtime.aliases import handler_builtins

README = Path(__file__).resolve().parents[2] / "docs" / "handlers.md"
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def top_level_names(cell: str) -> list[tuple[str | None, str]]:
    """(submodule switch, name) for each backticked name outside parentheses in a table cell."""
    out: list[tuple[str | None, str]] = []
    depth, i, current = 0, 0, None
    while i < len(cell):
        ch = cell[i]
        if ch == "`":
            end = cell.index("`", i + 1)
            token = cell[i + 1 : end]
            i = end + 1
            if depth:
                continue
            if cell[i : i + 1] == ":" and token.startswith("handshake."):
                current = token
                continue
            name = token.split("(", 1)[0]
            if IDENTIFIER.fullmatch(name):
                out.append((current, name))
            continue
        depth += ch == "("
        depth -= ch == ")"
        i += 1
    return out


def api_rows() -> list[tuple[str, str, str]]:
    text = README.read_text()
    table = text[text.index("### The handler API, name by name") :].split("\n\n", 2)[1]
    rows = []
    for line in table.splitlines()[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        module = re.fullmatch(r"`mod_pywebsocket\.([\w.]+)`", cells[0])
        if module is None:
            continue
        for switch, name in top_level_names(cells[1]):
            rows.append((switch or module.group(1), name, cells[0]))
    return rows


ROWS = api_rows()


def test_the_table_was_read():
    assert len(ROWS) > 40 and {m for m, _, _ in ROWS} >= {"msgutil", "common", "handshake", "stream", "dispatch"}


@pytest.mark.parametrize(("module", "name", "row"), ROWS, ids=[f"{m}.{n}" for m, n, _ in ROWS])
def test_every_name_imports_under_both_package_names(module, name, row):
    ours = importlib.import_module(f"mod_pywebsocket.{module}")
    assert hasattr(ours, name), f"mod_pywebsocket.{module} has no {name} (README row {row})"
    namespace: dict = {"__builtins__": handler_builtins()}
    exec(f"from pywebsocket3.{module} import {name} as found", namespace)  # as a handler file imports it
    assert namespace["found"] is getattr(ours, name)


def test_the_stream_methods_in_the_table():
    from mod_pywebsocket.stream import Stream

    for method in ("receive_message", "send_message", "send_ping", "close_connection", "get_last_received_opcode",
                   "receive_bytes"):  # fmt: skip
        assert callable(getattr(Stream, method))


EXCEPTIONS = ["ConnectionTerminatedException", "InvalidFrameException", "BadOperationException",
              "UnsupportedFrameException"]  # fmt: skip


@pytest.mark.parametrize(
    ("module", "names"), [("stream", [*EXCEPTIONS, "InvalidUTF8Exception"]), ("msgutil", EXCEPTIONS)]
)
def test_the_exceptions_import_from_stream_and_msgutil(module, names):
    ours = importlib.import_module(f"mod_pywebsocket.{module}")
    assert [n for n in names if not hasattr(ours, n)] == []
