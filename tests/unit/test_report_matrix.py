"""The matrix view of the client-conformance reports (``report_matrix``)."""

from __future__ import annotations

import re

from mod_pywebsocket.client_conformance import report_matrix
from mod_pywebsocket.client_conformance.report_matrix import Column, column_of, matrix_html


def _entry(behavior: str, transport: str, close: str = "OK") -> dict:
    return {"behavior": behavior, "behaviorClose": close, "transport": transport, "duration": 3,
            "reportfile": "x_case_1.json"}  # fmt: skip


def test_agent_names_give_engine_and_transport():
    assert column_of("firefox-153-h2") == Column("firefox-153-h2", "firefox-153", "h2")
    assert column_of("chromium-156.0.1-ws").engine == "chromium-156.0.1"
    assert column_of("websockets") == Column("websockets", "websockets", "")
    assert column_of("my-agent-h2") == Column("my-agent-h2", "my-agent-h2", "")  # no version: not parsed


def test_matrix_groups_columns_marks_other_transports_and_filters_disagreement():
    index = {
        "firefox-153-h2": {"1.1.1": _entry("OK", "HTTP/2"), "9.1.6": _entry("OK", "HTTP/1.1")},
        "firefox-153-ws": {"1.1.1": _entry("OK", "HTTP/1.1"), "9.1.6": _entry("OK", "HTTP/1.1")},
        "chromium-156-ws": {"1.1.1": _entry("OK", "HTTP/1.1"), "9.1.6": _entry("FAILED", "HTTP/1.1", "UNCLEAN")},
        "<b>odd</b>": {"1.1.1": _entry("OK", "HTTP/1.1")},
    }
    page = matrix_html(index, {("firefox-153-h2", "9.1.6")})
    heads = re.findall(r'<th class="engine" colspan="(\d)">([^<]*)</th>', page)
    assert heads == [("1", "&lt;b&gt;odd&lt;/b&gt;"), ("1", "chromium-156"), ("2", "firefox-153")]
    assert "<b>odd</b>" not in page  # agent names are escaped
    # Firefox's h2 column: one of its two cases ran over HTTP/1.1, and says so.
    assert "1 of 2 over HTTP/2" in page
    assert page.count("over HTTP/1.1</span>") == 1 and "elsewhere" in page
    # 1.1.1 is the same everywhere; 9.1.6 differs (Chromium FAILED): the checkbox hides "same" rows.
    assert re.search(r'<tr class="same"><th>1\.1\.1</th>', page)
    assert re.search(r'<tr class="differ"><th>9\.1\.6</th>', page)
    assert "only the 1 cases" in page and "#only-differ:checked ~ table tr.same" in page
    assert 'href="x_case_1.html"' in page  # the linked cell


def test_ran_elsewhere_needs_a_known_transport():
    assert not report_matrix.ran_elsewhere(column_of("websockets"), _entry("OK", "HTTP/2"))
    assert not report_matrix.ran_elsewhere(column_of("webkit-605-ws"), {"behavior": "OK"})
    assert report_matrix.ran_elsewhere(column_of("webkit-605-h2"), _entry("OK", "HTTP/1.1"))
