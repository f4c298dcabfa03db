"""``make bench``: our two servers against the references, side by side, same client, same run.

Servers, all on 127.0.0.1: the Apache appliance (container), our standalone
server, pywebsocket3 4.0.2, the ``websockets`` library's echo server, and a
minimal C echo (``rawecho.c``) as the ceiling that shows what the client can
drive. Round trips and handshakes use the C client (``rtclient.c``), the rest
the Python client in ``client.py``. Each round measures every server in turn,
so a noisy neighbour hits all of them alike; the table shows medians, min-max
and our ratios to theirs. (h) runs once, on our two servers. Rows t1-t6
(``transports.py``) put each of our servers' WebSockets over wss, HTTP/2 and HTTP/3
side by side, with their ratios to wss.

    python -m bench.run [--rounds 3] [--seconds 1.5] [--only a,b,...] [--messages N]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

from tests.servers import (
    EXAMPLES,
    PYWEBSOCKET3,
    ROOT,
    free_port,
    make_pywebsocket3_venv,
    make_test_pki,
    process_rss,
    start_appliance,
    start_standalone,
    wait_for_port,
)

from . import client, transports
from .client import SweepPoint, Target
from .plot import sweep_svg

BENCH = Path(__file__).resolve().parent
OURS = ["apache", "apache-2proc", "standalone"]  # apache-2proc: the appliance with WS_PROCESSES=2
THEIRS = ["pywebsocket3", "websockets"]
SERVERS = OURS + THEIRS + ["raw-c"]
METRICS = {
    "a": ("16 B text echo, round trips/s (ws)", "higher"),
    "b": ("1 MiB binary echo, MiB/s (ws)", "higher"),
    "c": ("open+close handshakes/s (ws)", "higher"),
    "c2": ("(c) with handler reload off", "higher"),
    "d": ("100 conns x 100 echoes, seconds", "lower"),
    "e1": ("16 B text echo, round trips/s (wss)", "higher"),
    "e2": ("1 MiB binary echo, MiB/s (wss)", "higher"),
    "f1": ("idle connections held (max 2000)", "higher"),
    "f2": ("server memory per connection, KiB", "lower"),
    "g": ("1 MiB compressible, permessage-deflate, MiB/s", "higher"),
    "h": ("memory growth, 1,000,000 echoes on 1 conn, KiB", "lower"),
    # WS_CAPTURE=all (issue 25): what capturing every connection costs, on our servers
    "k1": ("(a) with WS_CAPTURE=all", "higher"),
    "k2": ("(b) with WS_CAPTURE=all", "higher"),
    "k3": ("(c) with WS_CAPTURE=all", "higher"),
    **{metric: (title, "higher") for metric, title in transports.TITLES.items()},
}

#: Rows measured on a variant of our servers (the server's name + suffix), and the row
#: they compare with on the plain one.
VARIANTS = {"c2": ("-noreload", "c"), "k1": ("-capture", "a"), "k2": ("-capture", "b"), "k3": ("-capture", "c")}

#: The load sweep (s): connections open at once, every one echoing 16-byte texts
#: back to back, driven by the C client (one thread, poll()).
SWEEP = (10, 100, 300, 1000)


class Running:
    """One server under test: its ws and wss targets, its memory, and how to stop it."""

    def __init__(
        self,
        name: str,
        ws_port: int,
        wss_port: int | None,
        cafile: str | None,
        memory,
        stop,
        h2_port: int | None = None,
        h3_port: int | None = None,
    ) -> None:
        self.name = name
        self.h2_port = h2_port  # the TLS port, where the appliance also speaks HTTP/2
        self.h3_port = h3_port  # UDP
        self.ws = Target("127.0.0.1", ws_port)
        context = ssl.create_default_context(cafile=cafile) if cafile else None
        self.wss = Target("127.0.0.1", wss_port, context, cafile=cafile) if wss_port else None
        self.memory = memory  # () -> bytes in use by the server
        self.stop = stop


def _spawn(args: list[str], log: Path, port: int | None = None, env: dict | None = None) -> tuple:
    out = open(log, "wb")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, env=env)
    if port is None:
        port = wait_for_port(process, log)
    else:
        _wait_listening(port, process, log)

    def stop() -> None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
        out.close()

    return process, port, stop


def _wait_listening(port: int, process, log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[:3]} exited:\n{log.read_text(errors='replace')}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}:\n{log.read_text(errors='replace')}")


def start_all(tmp: Path, reference_python: str) -> dict[str, Running]:
    pki = make_test_pki(tmp / "pki")
    running: dict[str, Running] = {}

    # Room for (f)'s 2000 idle connections: both servers default to 1024 at once.
    capacity = {"WS_THREADS": "2048", "WS_LOG_LEVEL": "warn"}  # every server at its default log level
    app = start_appliance(EXAMPLES, tmp, capacity, certificate=pki, host_network=True)
    running["apache"] = Running(
        "apache", app.http_port, app.https_port, pki.ca, app.memory, app.stop, app.https_port, app.h3_port
    )
    # More cores: two Apache children, each with its own handler state (see docs/performance.md).
    two = start_appliance(EXAMPLES, tmp, {**capacity, "WS_PROCESSES": "2"}, certificate=pki, host_network=True)
    running["apache-2proc"] = Running("apache-2proc", two.http_port, two.https_port, pki.ca, two.memory, two.stop)

    ours = start_standalone(EXAMPLES, tmp, capacity, certificate=pki, h3=True)
    # (c2): the same servers with handler reload off, to show what its stat() per handshake costs.
    off = {**capacity, "WS_HANDLER_RELOAD": "off"}
    app_off = start_appliance(EXAMPLES, tmp, off, certificate=pki, host_network=True)
    running["apache-noreload"] = Running("apache", app_off.http_port, None, None, lambda: 0, app_off.stop)
    ours_off = start_standalone(EXAMPLES, tmp, off, certificate=pki)
    running["standalone-noreload"] = Running("standalone", ours_off.http_port, None, None, lambda: 0, ours_off.stop)

    running["standalone"] = Running(
        "standalone", ours.http_port, ours.https_port, pki.ca, ours.memory, ours.stop, None, ours.h3_port
    )
    # (k): the same with every connection captured (frames to 4 KiB each, a page per connection).
    captured = {**capacity, "WS_CAPTURE": "all"}
    (tmp / "reports").mkdir(exist_ok=True)
    os.chmod(tmp / "reports", 0o777)
    app_cap = start_appliance(EXAMPLES, tmp, captured, certificate=pki, host_network=True, reports_dir=tmp / "reports")
    running["apache-capture"] = Running("apache", app_cap.http_port, None, None, lambda: 0, app_cap.stop)
    ours_cap = start_standalone(EXAMPLES, tmp, {**captured, "WS_REPORTS_DIR": str(tmp / "reports-standalone")})
    running["standalone-capture"] = Running("standalone", ours_cap.http_port, None, None, lambda: 0, ours_cap.stop)

    pw3 = []
    for extra in ([], ["-t", "-k", pki.key, "-c", pki.cert]):
        port = free_port()
        command = [reference_python, "-m", "pywebsocket3.standalone", "-H", "127.0.0.1", "-p", str(port)]
        command += ["-w", str(EXAMPLES), "-d", str(EXAMPLES), *extra]
        pw3.append(_spawn(command, tmp / f"pw3-{port}.log", port))
    running["pywebsocket3"] = Running(
        "pywebsocket3", pw3[0][1], pw3[1][1], pki.ca, lambda: process_rss(pw3[0][0].pid), lambda: [p[2]() for p in pw3]
    )

    ws_servers = [_spawn([sys.executable, str(BENCH / "websockets_echo.py"), *extra], tmp / f"websockets-{n}.log")
                  for n, extra in enumerate(([], [pki.cert, pki.key]))]  # fmt: skip
    running["websockets"] = Running(
        "websockets",
        ws_servers[0][1],
        ws_servers[1][1],
        pki.ca,
        lambda: process_rss(ws_servers[0][0].pid),
        lambda: [p[2]() for p in ws_servers],
    )

    binary = tmp / "rawecho"
    subprocess.run(["cc", "-O2", "-pthread", "-o", str(binary), str(BENCH / "rawecho.c"), "-lcrypto"], check=True)
    client.C_CLIENT = str(tmp / "rtclient")
    subprocess.run(["cc", "-O2", "-o", client.C_CLIENT, str(BENCH / "rtclient.c"), "-lssl", "-lcrypto"], check=True)
    raw = _spawn([str(binary), "0"], tmp / "rawecho.log")
    running["raw-c"] = Running("raw-c", raw[1], None, None, lambda: process_rss(raw[0].pid), raw[2])
    return running


def measure(metric: str, server: Running, seconds: float) -> float:
    if metric == "a":
        return client.round_trips(server.ws, seconds)
    if metric == "b":
        return client.throughput(server.ws, seconds)
    if metric in ("c", "c2", "k3"):
        return client.handshakes(server.ws, seconds)
    if metric == "k1":
        return client.round_trips(server.ws, seconds)
    if metric == "k2":
        return client.throughput(server.ws, seconds)
    if metric == "d":
        return client.many_clients(server.ws)
    if metric == "e1":
        return client.round_trips(server.wss, seconds) if server.wss else math.nan
    if metric == "e2":
        return client.throughput(server.wss, seconds) if server.wss else math.nan
    if metric == "g":
        return client.throughput(server.ws, seconds, deflate=True)
    if metric in transports.ROWS:
        value = transports.measure(metric, server.wss, server.h2_port, server.h3_port, seconds)
        transports.settle()
        return value
    raise ValueError(metric)


def measure_idle(server: Running) -> tuple[float, float]:
    """(f): connections held, and memory per connection in KiB."""
    time.sleep(1.0)  # let the previous measurement's connections wind down
    before = server.memory()
    with client.hold_idle(server.ws) as held:
        time.sleep(1.0)
        after = server.memory()
    return held, (after - before) / max(held, 1) / 1024


def run_sweep(running: dict[str, Running], seconds: float) -> dict[str, list[SweepPoint]]:
    """(s) every server at each step of ``SWEEP``; a server that cannot take a step stops there."""
    sweep: dict[str, list[SweepPoint]] = {name: [] for name in SERVERS}
    for connections in SWEEP:
        for name in SERVERS:
            if any(p.stopped for p in sweep[name]):
                continue
            time.sleep(1.0)  # the last step's connections wind down
            server = running[name]
            point = client.sweep_point(server.ws, connections, seconds, server.memory)
            sweep[name].append(point)
            shown = f"{point.echoes_per_second:,.0f} echoes/s" if point.echoes_per_second else point.stopped
            print(f"s {name}: {connections} connections: {shown}, {point.memory_mib or 0:.0f} MiB", flush=True)
    return sweep


def print_sweep(sweep: dict[str, list[SweepPoint]]) -> None:
    print(f"\n{'s) connections, all echoing':<48}" + "".join(f"{name:>26}" for name in SERVERS))
    for connections in SWEEP:
        row = f"{f'   {connections:,}: echoes/s, server MiB':<48}"
        for name in SERVERS:
            point = next((p for p in sweep[name] if p.connections == connections), None)
            if point is None or point.echoes_per_second is None:
                cell = "stopped" if point is not None else "-"
            else:
                cell = f"{point.echoes_per_second:,.0f} / {point.memory_mib or 0:,.0f}"
            row += f"{cell:>26}"
        print(row)
    base = {p.connections: p.echoes_per_second for p in sweep.get("websockets", [])}
    for name in OURS:
        ratios = [f"{p.connections}: {p.echoes_per_second / base[p.connections]:.2f}x"
                  for p in sweep[name] if p.echoes_per_second and base.get(p.connections)]  # fmt: skip
        print(f"   {name} / websockets echoes/s: " + ", ".join(ratios))
    for name, points in sweep.items():
        for p in points:
            if p.stopped:
                print(f"   {name} stopped at {p.connections:,} connections: {p.stopped}")


def summarise(values: list[float]) -> dict:
    finite = [v for v in values if not math.isnan(v)]
    if not finite:
        return {"median": math.nan, "min": math.nan, "max": math.nan, "runs": values}
    return {"median": statistics.median(finite), "min": min(finite), "max": max(finite), "runs": values}


def print_table(results: dict) -> None:
    width = 48
    print(f"\n{'measurement':<{width}}" + "".join(f"{name:>26}" for name in SERVERS))
    for metric, (title, _) in METRICS.items():
        row = f"{metric + ') ' + title:<{width}}"
        for name in SERVERS:
            s = results[metric].get(name)
            if s is None or math.isnan(s["median"]):
                row += f"{'n/a':>26}"
            else:
                row += f"{_fmt(s['median'])} [{_fmt(s['min'])}-{_fmt(s['max'])}]".rjust(26)
        print(row)
    pairs = [(o, t) for o in OURS for t in THEIRS + ["raw-c"]]
    print(f"\n{'ratio ours/theirs (>1 is better for us)':<{width}}" + "".join(f"{o + '/' + t:>26}" for o, t in pairs))
    for metric, (title, better) in METRICS.items():
        row = f"{metric + ') ' + title:<{width}}"
        for o, t in pairs:
            row += f"{_ratio(results[metric], o, t, better):>26}"
        print(row)
    if any(results[m] for m in ("k1", "k2", "k3")):
        print(f"\n{'with capture / without, same server':<{width}}" + "".join(f"{name:>26}" for name in OURS))
        for metric in ("k1", "k2", "k3"):
            row = f"{metric + ') ' + METRICS[metric][0]:<{width}}"
            base = VARIANTS[metric][1]
            for name in OURS:
                pair = {"x": results[metric].get(name), "y": results[base].get(name)}
                row += f"{_ratio(pair, 'x', 'y', 'higher'):>26}"
            print(row)
    if not any(results[m] for m in transports.ROWS):
        return
    # Transports against each other, on the same server (rows t1-t6: one Python client loop).
    print(f"\n{'ratio over wss on the same server':<{width}}" + "".join(f"{name:>26}" for name in OURS))
    for metric, base in (("t2", "t1"), ("t3", "t1"), ("t5", "t4"), ("t6", "t4")):
        row = f"{metric + ') ' + METRICS[metric][0]:<{width}}"
        for name in OURS:
            row += f"{_ratio({'x': results[metric].get(name), 'y': results[base].get(name)}, 'x', 'y', 'higher'):>26}"
        print(row)


def _ratio(metric_results: dict, ours: str, theirs: str, better: str) -> str:
    a, b = metric_results.get(ours), metric_results.get(theirs)
    if not a or not b or math.isnan(a["median"]) or math.isnan(b["median"]) or not b["median"] or not a["median"]:
        return "n/a"
    ratio = a["median"] / b["median"] if better == "higher" else b["median"] / a["median"]
    return f"{ratio:.2f}x"


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.2f}"


def machine_facts() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())  # fmt: skip
    versions = {}
    for package in ("websockets", "mod_pywebsocket"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    versions["pywebsocket3"] = next(p for p in PYWEBSOCKET3 if p.startswith("pywebsocket3=="))  # its own venv
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "versions": versions,
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=1.5, help="length of each timed measurement")
    parser.add_argument("--only", help="comma-separated metrics (a,b,c,c2,d,e1,e2,f,g,h,k,s,t)")
    parser.add_argument("--messages", type=int, default=1_000_000, help="echoes for (h), on our two servers")
    parser.add_argument(
        "--reference-python",
        help="a Python with pywebsocket3 installed (default: a throwaway venv with pywebsocket3 4.0.2 from PyPI)",
    )
    args = parser.parse_args(argv)
    everything = ["a", "b", "c", "c2", "d", "e1", "e2", "f", "g", "h", "k", "s", "t"]
    metrics = args.only.split(",") if args.only else everything
    if "t" in metrics:  # the transport rows, t1-t6
        metrics = [m for m in metrics if m != "t"] + list(transports.ROWS)
    if "k" in metrics:  # the capture rows, k1-k3
        metrics = [m for m in metrics if m != "k"] + ["k1", "k2", "k3"]

    tmp = Path(tempfile.mkdtemp(prefix="mpws-bench-"))
    started = time.monotonic()
    # The reference in a venv of its own: installed beside this package it would take the
    # pywebsocket3 name from this package's alias (tests/integration/test_wpt_h3_embedding.py).
    reference = args.reference_python or str(make_pywebsocket3_venv(tmp))
    running = start_all(tmp, reference)
    results: dict[str, dict] = {m: {} for m in METRICS}
    raw: dict[str, dict[str, list[float]]] = {m: {n: [] for n in SERVERS} for m in METRICS}
    try:
        for round_number in range(1, args.rounds + 1):
            for metric in [m for m in metrics if m not in ("f", "h", "s")]:
                for name in SERVERS:
                    server = running.get(name + VARIANTS[metric][0]) if metric in VARIANTS else running[name]
                    if server is None:
                        raw[metric][name].append(math.nan)
                        continue
                    try:
                        value = measure(metric, server, args.seconds)
                    except Exception as e:  # noqa: BLE001 - a failing server is reported, the rest go on
                        print(f"  {metric} {name}: failed: {e!r}", flush=True)
                        value = math.nan
                    raw[metric][name].append(value)
                print(
                    f"round {round_number}/{args.rounds}: {metric} done ({time.monotonic() - started:.0f}s)", flush=True
                )
        if "f" in metrics:
            for name in SERVERS:
                held, per_connection = measure_idle(running[name])
                raw["f1"][name].append(held)
                raw["f2"][name].append(per_connection)
                print(f"f {name}: {held} held, {per_connection:.0f} KiB each", flush=True)
        sweep = run_sweep(running, max(args.seconds, 2.0)) if "s" in metrics else {}
        if "h" in metrics:
            for name in ("apache", "standalone"):  # whether ours leak per call; once is enough
                server = running[name]
                growth = client.memory_growth(
                    server.ws,
                    server.memory,
                    args.messages,
                    progress=lambda n, name=name: print(f"h {name}: {n:,} echoes", flush=True),
                )
                raw["h"][name].append(growth)
                print(f"h {name}: {growth:,.0f} KiB over {args.messages:,} echoes", flush=True)
    finally:
        for server in running.values():
            server.stop()
    for metric in METRICS:
        for name in SERVERS:
            if raw[metric][name]:
                results[metric][name] = summarise(raw[metric][name])
    print_table(results)
    if sweep:
        print_sweep(sweep)
    report = {
        "machine": machine_facts(),
        "rounds": args.rounds,
        "seconds": args.seconds,
        "metrics": {m: {"title": t, "better": b} for m, (t, b) in METRICS.items()},
        "results": results,
        "sweep": {name: [vars(p) for p in points] for name, points in sweep.items()},
    }
    out = ROOT / "reports" / "bench" / f"bench-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, default=str))
    (out.parent / "latest.json").write_text(out.read_text())
    if sweep:
        facts = report["machine"]
        caption = f"make bench, {time.strftime('%Y-%m-%d')}, {facts.get('cpus', '?')} cores; one run"
        svg = out.with_name(out.name.replace("bench-", "sweep-").replace(".json", ".svg"))
        svg.write_text(sweep_svg(sweep, caption))
        (out.parent / "sweep-latest.svg").write_text(svg.read_text())
        print(f"written {svg.relative_to(ROOT)} (and reports/bench/sweep-latest.svg)")
    print(f"\nwritten {out.relative_to(ROOT)} in {time.monotonic() - started:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
