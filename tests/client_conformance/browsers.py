"""Browsers as the clients under test: each engine through the suite's page, per transport.

``make client-conformance`` runs ``python -m tests.client_conformance.browsers``: the
appliance on the host's loopback (with a test CA the browsers trust), each selected
engine (``ENGINES``: chromium, firefox, webkit; default every installed one) opening
``/client-conformance.html`` once per selected transport (``TRANSPORTS``: ``ws``, the
page over http; ``h2``, the page over https, where the engine carries its WebSockets
in the page's HTTP/2 connection, RFC 8441; ``h3``, the page over HTTP/3 from the
appliance's UDP port, Chromium told to reach it over QUIC with WebSockets over HTTP/3
on, RFC 9220), a verdict-count table per run, and the
reports under ``reports/client-conformance/`` (``matrix.html``: engines x transports).
Agents are named ``ENGINE-VERSION-TRANSPORT`` (``firefox-153-h2``).

It fails (exit status 1) when

* a case ran over another transport than its run's (a WebSocket on HTTP/1.1 from an
  HTTP/2 run), or
* a verdict differs from the engine's checked-in expectations,
  ``tests/client_conformance/expected/<engine>.json``; ``--update-expected`` rewrites
  those files from the run instead. Where a verdict is decided by timing alone
  between two passes (``compare.TIMING_DECIDED``: OK or NON-STRICT), either passes.

An engine that does not carry WebSockets over HTTP/2 (WebKitGTK) has no h2 run, one
without WebSockets over HTTP/3 (Firefox, WebKitGTK) no h3 run: the table says so.
``--kosoku`` also runs the engines through kosoku's fuzzingserver over
ws and lists the cases where the two suites' verdicts differ.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mod_pywebsocket.client_conformance import cases as suite

from .. import engines
from ..servers import EXAMPLES, ROOT, make_test_pki, start_appliance
from . import compare

REPORTS = ROOT / "reports" / "client-conformance"
EXPECTED = Path(__file__).with_name("expected")
TRANSPORTS = {"ws": ("http", "HTTP/1.1"), "h2": ("https", "HTTP/2"), "h3": ("https", "HTTP/3")}
VERDICTS = ["OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED", "FAILED"]
# A few cases of every section: what `make test` runs on each installed engine.
BOUNDED = ["1.1.1", "1.2.8", "2.5", "2.10", "3.2", "4.2.1", "5.6", "5.19", "6.2.3", "6.4.1", "6.12.8",
           "7.5.1", "7.9.1", "9.1.1", "9.2.1", "10.1.1", "12.1.1", "13.1.1", "13.3.1"]  # fmt: skip


def run_page(page, url: str, timeout: float, progress=None) -> dict:
    """Open the suite's page at ``url`` (with autostart) and wait until it is done: its results."""
    page.goto(url)
    deadline = time.monotonic() + timeout
    last = -1
    while time.monotonic() < deadline:
        state = page.evaluate("window.conformance && {done: window.conformance.done, "
                              "n: Object.keys(window.conformance.results || {}).length, "
                              "error: window.conformance.error || null}")  # fmt: skip
        if state and state["n"] != last and progress is not None:
            last = state["n"]
            progress(last)
        if state and (state["done"] or state["error"]):
            break
        time.sleep(1)
    else:
        raise TimeoutError(f"the page did not finish within {timeout:.0f} s: {url}\n" + _console(page))
    result = page.evaluate("window.conformance")
    if result.get("error"):
        raise RuntimeError(f"the page failed: {result['error']}\n" + _console(page))
    return result["results"]


def _console(page) -> str:
    return "\n".join(getattr(page, "console_lines", [])[-20:])


def counts(results: dict) -> collections.Counter:
    return collections.Counter(r["behavior"] for r in results.values())


def table(rows: dict[str, dict | None]) -> str:
    """A verdict-count table: one row per run, one column per verdict; a run that did not happen says why."""
    lines = [f"{'run':24}" + "".join(f"{v:>15}" for v in VERDICTS) + f"{'cases':>8}"]
    for name, results in rows.items():
        if isinstance(results, str):
            lines.append(f"{name:24}  {results}")
            continue
        c = counts(results)
        lines.append(f"{name:24}" + "".join(f"{c.get(v, 0):>15}" for v in VERDICTS) + f"{len(results):>8}")
    return "\n".join(lines)


def elsewhere(results: dict, transport: str) -> list[tuple[str, str]]:
    """(case id, transport) of every case that ran over another transport than ``transport``'s."""
    want = TRANSPORTS[transport][1]
    return [(i, str(r.get("transport"))) for i, r in results.items() if r.get("transport") != want]


def load_expected(engine: str) -> dict[str, dict[str, list[str]]] | None:
    path = EXPECTED / f"{engine}.json"
    if not path.exists():
        return None
    return json.loads(path.read_text())["transports"]


def unexpected(results: dict, expected: dict[str, list[str]]) -> list[tuple[str, tuple, tuple]]:
    """(case id, got, expected) for every case whose verdicts differ from the expectation."""
    differ = []
    for case_id, r in sorted(results.items(), key=lambda kv: suite.number_of(kv[0])):
        want = expected.get(case_id)
        if want is None:
            continue
        got = (r["behavior"], r["behaviorClose"])
        if got == tuple(want):
            continue
        passes = {"OK", "NON-STRICT"}
        if case_id in compare.TIMING_DECIDED and {got[0], want[0]} <= passes and got[1] == want[1]:
            continue
        differ.append((case_id, got, tuple(want)))
    return differ


def write_expected(engine: str, version: str, runs: dict[str, dict]) -> Path:
    """Merge this run's verdicts into ``expected/<engine>.json`` (cases not run are kept)."""
    path = EXPECTED / f"{engine}.json"
    old = json.loads(path.read_text()) if path.exists() else {"transports": {}}
    transports = old["transports"]
    for transport, results in runs.items():
        mine = transports.setdefault(transport, {})
        for case_id, r in results.items():
            mine[case_id] = [r["behavior"], r["behaviorClose"]]
        transports[transport] = dict(sorted(mine.items(), key=lambda kv: suite.number_of(kv[0])))
    document = {
        "engine": engine,
        "measured": f"{engine} {version}, {time.strftime('%Y-%m-%d')}, make client-conformance UPDATE_EXPECTED=1",
        "transports": transports,
    }
    EXPECTED.mkdir(exist_ok=True)
    path.write_text(_one_case_a_line(document))
    return path


def _one_case_a_line(document: dict) -> str:
    """JSON with one case per line, so that a diff of an update shows exactly the cases that moved."""
    transports = []
    for transport, verdicts in document["transports"].items():
        lines = ",\n".join(f"   {json.dumps(case_id)}: {json.dumps(v)}" for case_id, v in verdicts.items())
        transports.append(
            f"  {json.dumps(transport)}: {{\n{lines}\n  }}" if lines else f"  {json.dumps(transport)}: {{}}"
        )
    head = ",\n".join(f" {json.dumps(k)}: {json.dumps(v)}" for k, v in document.items() if k != "transports")
    return f'{{\n{head},\n "transports": {{\n' + ",\n".join(transports) + "\n }\n}\n"


def _kosoku(browser, appliance, patterns: list[str] | None, timeout: float) -> tuple[dict, float]:
    """An engine through kosoku's fuzzingserver, driven by our page (``?base=`` pointing at kosoku)."""
    port = compare.free_port()
    out = tempfile.mkdtemp(prefix="kosoku-browser-")
    args = [str(compare.KOSOKU), "-m", "fuzzingserver", f"127.0.0.1:{port}", "-o", out]
    for p in patterns or ():
        args += ["-i", p]
    server = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    agent = browser.agent("kosoku")
    try:
        compare._wait_listening(port)
        started = time.monotonic()
        url = appliance.url("http", f"/client-conformance.html?autostart=1&agent={agent}&base=ws://127.0.0.1:{port}"
                            "&api=minimal")  # fmt: skip
        page = browser.new_page()
        try:
            run_page(page, url, timeout)
        finally:
            page.close()
        server.wait(timeout=120)
        took = time.monotonic() - started
        shutil.copyfile(os.path.join(out, "index.json"), REPORTS / f"kosoku-{agent}-index.json")
        with open(os.path.join(out, "index.json"), encoding="utf-8") as f:
            return json.load(f)[agent], took
    finally:
        if server.poll() is None:
            server.kill()
        shutil.rmtree(out, ignore_errors=True)


def _select_cases(spec: str) -> list[str]:
    if spec == "bounded":
        return BOUNDED
    return [p for p in spec.split(",") if p] if spec else []


def _run_engine(engine: str, pki, appliance, args, patterns: list[str]) -> tuple[dict, dict, str]:
    """One engine through each selected transport: (runs by transport, times, version)."""
    runs: dict[str, dict | str] = {}
    timings: dict[str, float] = {}
    query = f"&cases={','.join(patterns)}" if patterns else ""
    with engines.open_browser(engine, pki) as browser:
        for transport in args.transports:
            if transport == "h2" and not engines.websockets_over_http2(engine):
                runs[transport] = "no run: this engine never carries WebSockets over HTTP/2"
                continue
            if transport == "h3":
                if not engines.websockets_over_http3(engine):
                    runs[transport] = "no run: this engine has no WebSockets over HTTP/3"
                    continue
                # Its own browser: the origin forced onto QUIC is a launch flag.
                origin = f"127.0.0.1:{appliance.h3_port}"
                with engines.open_browser(engine, pki, quic_origin=origin) as h3_browser:
                    url = f"https://{origin}/client-conformance.html?autostart=1&agent={h3_browser.agent('h3')}{query}"
                    runs[transport], timings[transport] = _run_one(h3_browser, "h3", url, args)
                continue
            scheme, _ = TRANSPORTS[transport]
            url = appliance.url(scheme, f"/client-conformance.html?autostart=1&agent={browser.agent(transport)}{query}")
            runs[transport], timings[transport] = _run_one(browser, transport, url, args)
        if args.kosoku:
            runs["kosoku"], timings["kosoku"] = _kosoku(browser, appliance, patterns or None, args.timeout)
        return runs, timings, browser.version


def _run_one(browser, transport: str, url: str, args) -> tuple[dict, float]:
    agent = browser.agent(transport)
    print(f"{agent}: {url}", flush=True)
    started = time.monotonic()
    page = browser.new_page()
    try:
        results = run_page(page, url, args.timeout, progress=_progress(agent))
    finally:
        page.close()
    took = time.monotonic() - started
    print(f"\n{agent}: {len(results)} cases in {took:.0f} s", flush=True)
    return results, took


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default=os.environ.get("ENGINES") or "", help="default: every installed one")
    parser.add_argument("--transports", default="ws,h2,h3", help="which of ws, h2, h3 to run (default: all three)")
    parser.add_argument("--cases", default="", help="comma-separated ids or globs, or 'bounded' (default: all 517)")
    parser.add_argument("--kosoku", action="store_true", help="also run each engine through kosoku's fuzzingserver")
    parser.add_argument("--update-expected", action="store_true", help="write expected/<engine>.json from this run")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per run")
    args = parser.parse_args()
    args.transports = [t for t in args.transports.split(",") if t]
    if unknown := set(args.transports) - set(TRANSPORTS):
        parser.error(f"unknown transport(s) {', '.join(sorted(unknown))}: choose from {', '.join(TRANSPORTS)}")
    chosen = engines.selected(args.engines)
    patterns = _select_cases(args.cases)

    REPORTS.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="client-conformance-"))
    pki = make_test_pki(tmp / "pki")
    appliance = start_appliance(EXAMPLES, tmp, certificate=pki, host_network=True, reports_dir=REPORTS)
    all_runs: dict[str, tuple[dict, dict, str]] = {}
    try:
        for engine in chosen:
            all_runs[engine] = _run_engine(engine, pki, appliance, args, patterns)
    finally:
        appliance.stop()
    return report(all_runs, args, patterns)


def report(all_runs: dict[str, tuple[dict, dict, str]], args, patterns: list[str]) -> int:
    """Print the tables and the checks; the exit status."""
    # The reports are the record (the page's own reading of getCaseStatus can miss some).
    index_file = REPORTS / "index.json"
    index = json.loads(index_file.read_text()) if index_file.exists() else {}
    failures: list[str] = []
    rows: dict[str, dict | str] = {}
    for engine, (runs, _, version) in all_runs.items():
        for transport, results in runs.items():
            agent = f"{engine}-{version}-{transport}"
            if isinstance(results, dict) and agent in index and transport != "kosoku":
                wanted = set(results)
                results = runs[transport] = {i: r for i, r in index[agent].items() if i in wanted}
            rows[agent] = results
            if isinstance(results, dict) and transport in TRANSPORTS:
                moved = elsewhere(results, transport)
                print(f"{agent}: {len(results) - len(moved)} of {len(results)} cases over {TRANSPORTS[transport][1]}")
                if moved:
                    failures.append(f"{agent}: {len(moved)} cases ran over another transport: {moved[:10]}")
        _check_expected(engine, version, runs, args, failures)
    print()
    print(table(rows))
    for engine, (_, timings, _) in all_runs.items():
        for transport, took in timings.items():
            print(f"{engine} {transport}: {took:.0f} s")
    _transport_differences(all_runs)
    if args.kosoku:
        _kosoku_differences(all_runs)
    print(f"\nreports: {REPORTS}/matrix.html (and http://127.0.0.1:8080/autobahn/reports/matrix.html under "
          "docker compose up)")  # fmt: skip
    for failure in failures:
        print(f"FAILED: {failure}", file=sys.stderr)
    return 1 if failures else 0


def _check_expected(engine: str, version: str, runs: dict, args, failures: list[str]) -> None:
    mine = {t: r for t, r in runs.items() if t in TRANSPORTS and isinstance(r, dict)}
    if args.update_expected:
        print(f"expectations written: {write_expected(engine, version, mine)}")
        return
    expected = load_expected(engine)
    if expected is None:
        print(f"{engine}: no expectations (tests/client_conformance/expected/{engine}.json); not gated")
        return
    for transport, results in mine.items():
        differ = unexpected(results, expected.get(transport, {}))
        for case_id, got, want in differ:
            failures.append(
                f"{engine}-{version}-{transport} {case_id}: {got[0]}/{got[1]}, expected {want[0]}/{want[1]}"
            )
        missing = [i for i in results if i not in expected.get(transport, {})]
        if missing:
            print(f"{engine} {transport}: {len(missing)} cases have no expectation yet (e.g. {missing[:5]})")


def _transport_differences(all_runs: dict) -> None:
    """Each engine's verdicts over h2 and h3 against its verdicts over ws."""
    for engine, (runs, _, _) in all_runs.items():
        ws = runs.get("ws")
        for other in ("h2", "h3"):
            theirs = runs.get(other)
            if not (isinstance(ws, dict) and isinstance(theirs, dict)):
                continue
            differ = compare.compare(ws, theirs)
            both = len(set(ws) & set(theirs))
            print(f"\n{engine}: {len(differ)} of {both} cases whose verdicts differ between ws and {other}"
                  f" ({100 * (both - len(differ)) / max(both, 1):.1f} % agree)")  # fmt: skip
            for case_id, a, b in differ:
                print(f"  {case_id}: ws {a[0]}/{a[1]}, {other} {b[0]}/{b[1]}")


def _kosoku_differences(all_runs: dict) -> None:
    for engine, (runs, _, _) in all_runs.items():
        ours, theirs = runs.get("ws"), runs.get("kosoku")
        if not (isinstance(ours, dict) and isinstance(theirs, dict)):
            continue
        differ = compare.compare(ours, theirs)
        both = len(set(ours) & set(theirs))
        print(f"\n{engine}: agreement with kosoku over ws: {both - len(differ)}/{both} cases")
        for case_id, a, b in differ:
            print(f"  {case_id}: ours {a[0]}/{a[1]}, kosoku {b[0]}/{b[1]}")


def _progress(name: str):
    def show(done: int) -> None:
        print(f"\r{name}: {done} cases done", end="", flush=True)

    return show


if __name__ == "__main__":
    sys.exit(main())
