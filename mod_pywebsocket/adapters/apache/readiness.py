"""Ready means ready: the appliance says it is ready once every listener really serves.

The image's entrypoint runs ``python3 -m mod_pywebsocket.adapters.apache.readiness watch``
beside Apache and the HTTP/3 process. It probes each listener over loopback, the way a
client uses it, with the certificate unchecked (it is often self-signed) and each probe
bounded by ``PROBE_TIMEOUT`` (``probes``):

- HTTP/1.1 on ``WS_LISTEN_HTTP``: ``GET /mod_pywebsocket/spki`` answers 200;
- TLS on ``WS_LISTEN_HTTPS``, ALPN ``http/1.1``: the same;
- HTTP/2 on the TLS port (``WS_HTTP2=on``): ALPN chooses ``h2``, the server's SETTINGS
  announce the extended CONNECT (RFC 8441) and the same GET answers 200;
- HTTP/3 on ``WS_LISTEN_H3`` (``WS_H3=on``, unless the entrypoint gave it up: exit status
  2 or 3 leaves ``$WS_RUN_DIR/h3-off``): the same GET answers 200 once per process (it
  answers 503 while it loads the handlers); later checks of the same process stop at the
  QUIC handshake and the server's SETTINGS, so that they write no access-log line.

The balancer role (``WS_ROLE=balancer``) has its HTTP and TLS listeners only, and its own
``/mod_pywebsocket/ready`` (every other path goes to the replicas) is what is asked there.

Until all pass, the watcher probes every ``START_EVERY`` seconds and says why at most
every few seconds; then it writes ``$WS_RUN_DIR/ready`` (JSON: ``document``), which Apache
serves at ``/mod_pywebsocket/ready`` (conf/readiness.conf; 503 and the reason in
``$WS_RUN_DIR/not-ready`` while it is missing), and logs one line,
``mod_pywebsocket: ready: ws://... (HTTP/1.1); ...``, with the addresses of the sockets
really listening (``/proc/net``) and the container's own addresses for a wildcard
(``runtime.listeners``). It checks again every ``RECHECK_EVERY`` seconds: a listener that
fails twice in a row removes the file (logged, with why), and the line comes again once
all serve.

``python3 -m mod_pywebsocket.adapters.apache.readiness check`` probes once and prints
what fails (exit 1) or the document (exit 0). The standalone server builds the same
document for its own sockets (``runtime.listeners``: ``document``, ``summary``).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ...runtime import log_format as log_format_module
from ...runtime.files import replace_file
from ...runtime.listeners import (
    READY_PATH,
    Listener,
    bound_sockets,
    document,
    host_port,
    local_addresses,
    split_listen,
    summary,
)
from .probes import PROBE_PATH, PROBE_TIMEOUT, NotServing, _why, h2_status, h3_status, http_status, probe_host

READY_FILE = "ready"
NOT_READY_FILE = "not-ready"
H3_OFF_FILE = "h3-off"
H3_PID_FILE = "h3.pid"

START_EVERY = 0.2  # seconds between rounds until the first time all pass
RECHECK_EVERY = 10.0  # between rounds while ready
CONFIRM_AFTER = 1.0  # a failure while ready is looked at again this soon before it counts
LOST_EVERY = 1.0  # between rounds after a listener stopped serving
PROGRESS_FIRST = 5.0  # "not ready yet" is said after this long, then at doubling intervals
PROGRESS_MAX = 60.0


# -- the appliance's checks -----------------------------------------------------------------


@dataclass
class Check:
    """One listener's probe: ``run`` returns quietly when it serves, else raises NotServing."""

    label: str
    run: Callable[[], None]


def _expect(status: int, accepted: Iterable[int]) -> None:
    if status not in accepted:
        raise NotServing(f"answers {status}")


@dataclass
class H3Check:
    """HTTP/3: the full GET once per process (``h3.pid``), the handshake alone after that;
    nothing to check once the entrypoint has given HTTP/3 up (``h3-off``)."""

    host: str
    port: int
    run_dir: str
    timeout: float = PROBE_TIMEOUT
    served_by: str | None = field(default=None, init=False)  # the pid that last answered the GET

    def given_up(self) -> bool:
        return os.path.exists(os.path.join(self.run_dir, H3_OFF_FILE))

    def __call__(self) -> None:
        if self.given_up():
            return
        try:
            with open(os.path.join(self.run_dir, H3_PID_FILE), encoding="ascii") as f:
                pid: str | None = f.read().strip()
        except OSError:
            pid = None
        full = pid is None or pid != self.served_by
        try:
            status = h3_status(self.host, self.port, PROBE_PATH if full else None, self.timeout)
        except OSError as e:
            raise NotServing(_why(e)) from None
        if full:
            _expect(status or 0, (200,))
            self.served_by = pid


def appliance_checks(values: Mapping[str, Any], run_dir: str, timeout: float = PROBE_TIMEOUT) -> list[Check]:
    """The probes of the container's listeners, from its settings (``runtime.settings``)."""
    http_host, http_port = split_listen(values["listen_http"])
    https_host, https_port = split_listen(values["listen_https"])
    http, https = probe_host(http_host), probe_host(https_host)
    accepted: tuple[int, ...]
    if values["role"] == "balancer":  # its own page: every other path goes to the replicas
        path, accepted = READY_PATH, (200, 503)
    else:
        path, accepted = PROBE_PATH, (200,)
    checks = [
        Check(f"HTTP/1.1 on {host_port(http, http_port)}",
              lambda: _expect(http_status(http, http_port, path, timeout=timeout), accepted)),
        Check(f"TLS on {host_port(https, https_port)}",
              lambda: _expect(http_status(https, https_port, path, tls=True, timeout=timeout), accepted)),
    ]  # fmt: skip
    if values["role"] == "appliance" and values["http2"]:
        checks.append(
            Check(f"HTTP/2 on {host_port(https, https_port)}",
                  lambda: _expect(h2_status(https, https_port, path, timeout), accepted))
        )  # fmt: skip
    if values["role"] == "appliance" and values["h3"]:
        h3_host, h3_port = split_listen(values["listen_h3"])
        host = probe_host(h3_host)
        checks.append(Check(f"HTTP/3 on udp {host_port(host, h3_port)}", H3Check(host, h3_port, run_dir, timeout)))
    return checks


def failures(checks: Iterable[Check]) -> list[str]:
    """``label: why`` for each check that fails."""
    out = []
    for check in checks:
        try:
            check.run()
        except NotServing as e:
            out.append(f"{check.label}: {e}")
        except OSError as e:
            out.append(f"{check.label}: {_why(e)}")
        except Exception as e:  # noqa: BLE001 - a probe's own failure fails the check, not the watcher
            out.append(f"{check.label}: the probe failed ({type(e).__name__}: {e})")
    return out


def appliance_listeners(values: Mapping[str, Any], run_dir: str, proc_net: str = "/proc/net") -> list[Listener]:
    """The container's listeners and the addresses their sockets are bound to (from the
    kernel; the setting's own address where the kernel's tables cannot be read)."""

    def bound(listen: str, transport: str) -> tuple[tuple[str, int], ...]:
        host, port = split_listen(listen)
        found = bound_sockets(port, transport, proc_net)
        if host and host not in ("*", "0.0.0.0", "::"):
            found = [a for a in found if a[0] == host] or [(host, port)]
        return tuple(found or [("0.0.0.0", port)])

    balancer = values["role"] == "balancer"
    tls_protocols = ("HTTP/1.1", "HTTP/2") if values["http2"] and not balancer else ("HTTP/1.1",)
    listeners = [
        Listener("ws", "tcp", ("HTTP/1.1",), bound(values["listen_http"], "tcp")),
        Listener("wss", "tcp", tls_protocols, bound(values["listen_https"], "tcp")),
    ]
    if not balancer and values["h3"] and not os.path.exists(os.path.join(run_dir, H3_OFF_FILE)):
        listeners.append(Listener("h3", "udp", ("HTTP/3",), bound(values["listen_h3"], "udp")))
    return listeners


# -- the watcher ----------------------------------------------------------------------------


_logger = logging.getLogger("mod_pywebsocket.readiness")


def _log(message: str) -> None:
    """A line of the container's log, as the entrypoint writes them (``_configure_log``)."""
    _logger.log(logging.WARNING if message.startswith("not ready any more") else logging.INFO, "%s", message)


def _configure_log(log_format: str) -> None:
    """``mod_pywebsocket: <message>`` on stderr, or the servers' JSON lines (WS_LOG_FORMAT=json)."""
    handler = log_format_module.configure(logging.StreamHandler(sys.stderr), log_format, "mod_pywebsocket: %(message)s")
    _logger.handlers[:] = [handler]
    _logger.setLevel(logging.INFO)
    _logger.propagate = False


class Watcher:
    """Probes until every listener serves, then says so (the ready file and one log line),
    and keeps checking. ``step`` is one round; it returns how long to wait for the next."""

    STARTING, READY, LOST = "starting", "ready", "lost"

    def __init__(
        self,
        run_dir: str,
        check: Callable[[], list[str]],
        describe: Callable[[], tuple[list[Listener], list[str]]],
        server: str = "appliance",
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        log: Callable[[str], None] = _log,
        stopping: threading.Event | None = None,
    ) -> None:
        self.run_dir = run_dir
        self.check = check
        self.describe = describe  # (listeners, the local addresses)
        self.server = server
        self.clock = clock
        self.wall_clock = wall_clock
        self.log = log
        self.stopping = stopping or threading.Event()
        self.state = self.STARTING
        self.suspect = False  # one failed round while ready: looked at again before it counts
        self.reason = "starting"
        self._last_said = clock()
        self._say_every = PROGRESS_FIRST

    @property
    def ready_file(self) -> str:
        return os.path.join(self.run_dir, READY_FILE)

    def step(self) -> float:
        failed = self.check()
        if self.stopping.is_set():  # stopping meanwhile: the entrypoint has removed the file
            return 0.0
        now = self.clock()
        if not failed:
            self.suspect = False
            if self.state != self.READY:
                listeners, local = self.describe()
                body = document(self.server, listeners, local, self.wall_clock())
                replace_file(self.ready_file, json.dumps(body, indent=1) + "\n", 0o644)  # www-data reads it
                self.state = self.READY
                self.log(f"ready: {summary(listeners, local)}")
            return RECHECK_EVERY
        reason = "; ".join(failed)
        if self.state == self.READY:
            if not self.suspect:
                self.suspect = True
                return CONFIRM_AFTER
            self.suspect = False
            self.state = self.LOST
            self._unready(reason)
            self.log(f"not ready any more: {reason}")
            self._last_said, self._say_every = now, PROGRESS_FIRST
            return LOST_EVERY
        self._unready(reason)
        if now - self._last_said >= self._say_every:
            self.log(f"not ready yet: {reason}")
            self._last_said, self._say_every = now, min(self._say_every * 2, PROGRESS_MAX)
        return START_EVERY if self.state == self.STARTING else LOST_EVERY

    def _unready(self, reason: str) -> None:
        try:
            os.unlink(self.ready_file)
        except FileNotFoundError:
            pass
        if reason != self.reason or not os.path.exists(os.path.join(self.run_dir, NOT_READY_FILE)):
            replace_file(os.path.join(self.run_dir, NOT_READY_FILE), f"not ready: {reason}\n", 0o644)
            self.reason = reason

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                delay = self.step()
            except OSError as e:  # the run directory: say so, and try again
                self.log(f"readiness: {e}")
                delay = LOST_EVERY
            self.stopping.wait(delay)


def appliance_watcher(environ: Mapping[str, str], stopping: threading.Event | None = None) -> Watcher:
    from ...runtime import settings

    values = settings.from_environment(environ)
    run_dir = values["run_dir"]
    checks = appliance_checks(values, run_dir)
    return Watcher(
        run_dir,
        lambda: failures(checks),
        lambda: (appliance_listeners(values, run_dir), local_addresses()),
        values["role"],
        stopping=stopping,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv) or ["watch"]
    if args[0] not in ("watch", "check"):
        print("usage: python3 -m mod_pywebsocket.adapters.apache.readiness [watch|check]", file=sys.stderr)
        return 2
    stopping = threading.Event()
    _configure_log(os.environ.get("WS_LOG_FORMAT", "text"))
    try:
        watcher = appliance_watcher(os.environ, stopping)
    except ValueError as e:  # a SettingError: the entrypoint has said so already
        _log(f"error: readiness: {e}")
        return 2
    if args[0] == "check":
        failed = watcher.check()
        if failed:
            print("\n".join(failed))
            return 1
        listeners, local = watcher.describe()
        print(json.dumps(document(watcher.server, listeners, local, time.time()), indent=1))
        return 0
    # The probes run in a thread of their own; this one waits for SIGTERM (the entrypoint's
    # stop) and ends the process at once: a probe in flight is simply abandoned.
    stop_signals = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
    threading.Thread(target=watcher.run, name="readiness", daemon=True).start()
    signal.sigwait(stop_signals)
    stopping.set()
    return 0


if __name__ == "__main__":
    sys.exit(main())
