"""Headless Chromium as the client under test: the suite's page, over ws and over HTTP/2.

``make client-conformance`` runs ``python -m tests.client_conformance.chromium``: the
appliance on the host's loopback (with a test CA that Chromium trusts), Chromium
opening ``/client-conformance.html`` over http (ws) and over https (where it carries
its WebSockets in the HTTP/2 connection, RFC 8441), a verdict-count table per
transport, and the reports under ``reports/client-conformance/``. ``--kosoku`` also
runs the same Chromium through kosoku's fuzzingserver over ws, timed, and lists the
cases where the two suites' verdicts differ.
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

from ..servers import EXAMPLES, ROOT, make_test_pki, start_appliance
from . import compare

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # A background tab's timers are throttled: the suite's page must keep its pace.
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
]
REPORTS = ROOT / "reports" / "client-conformance"


def launch(playwright, spki: str | None = None):
    args = list(CHROMIUM_ARGS)
    if spki:
        args.append(f"--ignore-certificate-errors-spki-list={spki}")
    return playwright.chromium.launch(executable_path=CHROMIUM, args=args)


def run_page(browser, url: str, timeout: float, progress=None) -> dict:
    """Open the suite's page at ``url`` (with autostart) and wait until it is done: its results."""
    context = browser.new_context()
    page = context.new_page()
    lines: list[str] = []
    page.on("console", lambda m: lines.append(f"[{m.type}] {m.text}"))
    try:
        page.goto(url, wait_until="load")
        deadline = time.monotonic() + timeout
        last = -1
        while time.monotonic() < deadline:
            state = page.evaluate("() => window.conformance && ({done: window.conformance.done, "
                                  "n: Object.keys(window.conformance.results || {}).length, "
                                  "error: window.conformance.error || null})")  # fmt: skip
            if state and state["n"] != last and progress is not None:
                last = state["n"]
                progress(last)
            if state and (state["done"] or state["error"]):
                break
            time.sleep(1)
        else:
            raise TimeoutError(f"the page did not finish within {timeout:.0f} s: {url}\n" + "\n".join(lines[-20:]))
        result = page.evaluate("() => window.conformance")
        if result.get("error"):
            raise RuntimeError(f"the page failed: {result['error']}\n" + "\n".join(lines[-20:]))
        return result["results"]
    finally:
        context.close()


def counts(results: dict) -> collections.Counter:
    return collections.Counter(r["behavior"] for r in results.values())


def table(rows: dict[str, dict]) -> str:
    """A verdict-count table: one row per run (transport), one column per verdict."""
    verdicts = ["OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED", "FAILED"]
    lines = [f"{'run':24}" + "".join(f"{v:>15}" for v in verdicts) + f"{'cases':>8}"]
    for name, results in rows.items():
        c = counts(results)
        lines.append(f"{name:24}" + "".join(f"{c.get(v, 0):>15}" for v in verdicts) + f"{len(results):>8}")
    return "\n".join(lines)


def _kosoku_with_chromium(browser, appliance, patterns: list[str] | None, timeout: float) -> tuple[dict, float]:
    """Chromium through kosoku's fuzzingserver, driven by our page (``?base=`` pointing at kosoku)."""
    port = compare.free_port()
    out = tempfile.mkdtemp(prefix="kosoku-chromium-")
    args = [str(compare.KOSOKU), "-m", "fuzzingserver", f"127.0.0.1:{port}", "-o", out]
    for p in patterns or ():
        args += ["-i", p]
    server = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        compare._wait_listening(port)
        started = time.monotonic()
        url = appliance.url("http", f"/client-conformance.html?autostart=1&agent=chromium&base=ws://127.0.0.1:{port}"
                            "&api=minimal")  # fmt: skip
        run_page(browser, url, timeout)
        server.wait(timeout=120)
        took = time.monotonic() - started
        # Kept beside ours, so that the two suites' case durations can be compared.
        shutil.copyfile(os.path.join(out, "index.json"), REPORTS / "kosoku-index.json")
        with open(os.path.join(out, "index.json"), encoding="utf-8") as f:
            return json.load(f)["chromium"], took
    finally:
        if server.poll() is None:
            server.kill()
        shutil.rmtree(out, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="", help="comma-separated ids or globs (default: all 517)")
    parser.add_argument("--kosoku", action="store_true", help="also run Chromium through kosoku's fuzzingserver")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per run")
    parser.add_argument("--transports", default="ws,h2", help="which of ws, h2 to run (default: both)")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    REPORTS.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="client-conformance-"))
    pki = make_test_pki(tmp / "pki")
    appliance = start_appliance(
        EXAMPLES,
        tmp,
        certificate=pki,
        host_network=True,
        reports_dir=REPORTS,
    )
    query = f"&cases={args.cases}" if args.cases else ""
    runs: dict[str, dict] = {}
    timings: dict[str, float] = {}
    try:
        with sync_playwright() as playwright:
            browser = launch(playwright, pki.spki_sha256)
            chosen = set(args.transports.split(","))
            for name, scheme in (("chromium-ws (HTTP/1.1)", "http"), ("chromium-h2 (HTTP/2)", "https")):
                if ("ws" if scheme == "http" else "h2") not in chosen:
                    continue
                agent = "chromium-ws" if scheme == "http" else "chromium-h2"
                url = appliance.url(scheme, f"/client-conformance.html?autostart=1&agent={agent}{query}")
                print(f"{name}: {url}", flush=True)
                started = time.monotonic()
                runs[name] = run_page(browser, url, args.timeout, progress=_progress(name))
                timings[name] = time.monotonic() - started
                print(f"\n{name}: {len(runs[name])} cases in {timings[name]:.0f} s", flush=True)
            if args.kosoku:
                patterns = args.cases.split(",") if args.cases else None
                theirs, took = _kosoku_with_chromium(browser, appliance, patterns, args.timeout)
                runs["kosoku, chromium (ws)"] = theirs
                timings["kosoku, chromium (ws)"] = took
            browser.close()
    finally:
        appliance.stop()
    # The reports are the record (the page's own reading of getCaseStatus can miss some).
    index_file = REPORTS / "index.json"
    if index_file.exists():
        index = json.loads(index_file.read_text())
        for name in list(runs):
            agent = "chromium-ws" if name.startswith("chromium-ws") else "chromium-h2" if "h2" in name else None
            if agent in index:
                runs[name] = index[agent]
    print()
    print(table(runs))
    for name, took in timings.items():
        print(f"{name}: {took:.0f} s")
    print("\nseconds spent in the cases, by section (the sum of the reports' durations):")
    for name, results in runs.items():
        print(f"  {name:24}" + " ".join(f"{k}:{v:.0f}" for k, v in section_seconds(results).items()))
    if args.kosoku:
        ours = runs["chromium-ws (HTTP/1.1)"]
        theirs = runs["kosoku, chromium (ws)"]
        differ = compare.compare(ours, theirs)
        both = len(set(ours) & set(theirs))
        print(f"\nagreement with kosoku over ws: {both - len(differ)}/{both} cases")
        for case_id, a, b in differ:
            print(f"  {case_id}: ours {a[0]}/{a[1]}, kosoku {b[0]}/{b[1]}")
    print(f"\nreports: {REPORTS}/index.html (and http://127.0.0.1:8080/autobahn/reports/ under docker compose up)")
    return 0


def section_seconds(results: dict) -> dict[str, float]:
    sums: dict[str, float] = collections.defaultdict(float)
    for case_id, result in sorted(results.items(), key=lambda kv: [int(p) for p in kv[0].split(".")]):
        sums[case_id.split(".")[0]] += result.get("duration", 0) / 1000
    return dict(sums)


def _progress(name: str):
    def show(done: int) -> None:
        print(f"\r{name}: {done} cases done", end="", flush=True)

    return show


if __name__ == "__main__":
    sys.exit(main())
