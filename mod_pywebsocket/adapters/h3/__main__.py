"""The appliance's HTTP/3 process: ``python3 -m mod_pywebsocket.adapters.h3``.

Apache has no HTTP/3, so the image runs this beside it (the entrypoint starts it,
restarts it if it dies, and stops it with Apache). It reads the same ``WS_*``
environment the entrypoint checked (``runtime.settings``), serves the same handler
folder, pages and client-conformance suite as Apache on ``WS_LISTEN_H3`` (UDP), with
the certificate in ``WS_TLS_CERT``/``WS_TLS_KEY``. Started as root, it binds, then
becomes ``www-data`` (as Apache's workers are) before it loads a handler. SIGTERM
closes open WebSockets with 1001 and waits for their handlers up to WS_STOP_TIMEOUT.

Exit status: 0 stopped, 2 a bad setting, 3 HTTP/3 cannot run here (no aioquic, the
port is taken): the entrypoint does not restart it then.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import pwd
import signal
import sys
import threading
import time
from typing import Any

from ...runtime import log_format, registry, settings
from ...runtime.listeners import PROBE_AGENT
from ...runtime.log_levels import parse_log_level
from ..standalone.site import Site
from . import missing

_log = logging.getLogger("mod_pywebsocket.h3")
RUN_AS = "www-data"


def site_options(values: dict[str, Any]) -> argparse.Namespace:
    """The standalone ``Site``'s options from the settings table's values."""
    root = values["handler_root"]
    return argparse.Namespace(
        websock_handlers=root,
        scan_dir=values["handler_scan"] or None,
        document_root=values["document_root"] or root,
        allow_handlers_outside_root_dir=values["allow_handlers_outside_root_dir"],
        reload=values["handler_reload"],
        max_message_size=values["max_message_size"],
        max_buffered=values["max_buffered"],
        allowed_origins=values["allowed_origins"],
        timeout=values["timeout"],
        max_connections=values["max_connections"],
        client_conformance=values["client_conformance"],
        reports_dir=values["reports_dir"],
        compat=values["compat"],
        spki_file=os.environ.get("WS_SPKI_FILE") or None,
        capture=values["capture"],
        capture_dir=values["capture_dir"],
        capture_frame_bytes=values["capture_frame_bytes"],
        capture_connection_bytes=values["capture_connection_bytes"],
        capture_total_bytes=values["capture_total_bytes"],
    )


class ApplianceSite(Site):
    """The standalone server's site, with the appliance's access lines: Apache's format
    (conf/httpd.conf's ``appliance`` LogFormat) on stdout, whatever WS_LOG_LEVEL is, so
    that the container's access log reads the same for every transport
    (``"CONNECT /echo HTTP/3" 200``)."""

    _lock = threading.Lock()
    json_lines = False  # WS_LOG_FORMAT=json: conf/httpd.conf's appliance_json LogFormat

    def __init__(self, options: argparse.Namespace, run_dir: str) -> None:
        super().__init__(options)
        self._run_dir = run_dir
        self.not_ready = "starting"  # /mod_pywebsocket/ready is answered (by _ready_answer)

    def ready_state(self) -> tuple[bytes | None, str]:
        """/mod_pywebsocket/ready over HTTP/3 too: what Apache answers on TCP, from the
        readiness watcher's files (conf/readiness.conf)."""
        try:
            with open(os.path.join(self._run_dir, "ready"), "rb") as f:
                return f.read(), ""
        except OSError:
            pass
        try:
            with open(os.path.join(self._run_dir, "not-ready"), encoding="utf-8") as f:
                return None, f.read().strip().removeprefix("not ready: ") or "starting"
        except OSError:
            return None, "starting"

    def log_access(
        self, addr: tuple[str, int], request_line: str, status: int, started: float, user_agent: str | None = None
    ) -> None:
        if user_agent == PROBE_AGENT:
            return  # as Apache's access log leaves the health check out (conf/httpd.conf)
        micros = int((time.monotonic() - started) * 1_000_000)
        now = time.time()
        if self.json_lines:
            entry = {"time": log_format.utc_time(now), "logger": "access", "remote": addr[0],
                     "request": request_line, "status": status, "bytes": "-", "duration_us": micros,
                     "user_agent": user_agent or "-"}  # fmt: skip
            line = json.dumps(entry, ensure_ascii=True) + "\n"
        else:
            when = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now))
            line = f'{addr[0]} - - [{when}] "{request_line}" {status} - {micros} "{user_agent or "-"}"\n'
        with ApplianceSite._lock:
            sys.stdout.write(line)
            sys.stdout.flush()


def _drop_privileges() -> None:
    if os.getuid() != 0:
        return
    try:
        user = pwd.getpwnam(RUN_AS)
    except KeyError:
        _log.warning("no user %s: the HTTP/3 listener keeps running as root", RUN_AS)
        return
    os.setgroups([])
    os.setgid(user.pw_gid)
    os.setuid(user.pw_uid)


def main() -> int:
    try:
        values = settings.from_environment(os.environ)
    except settings.SettingError as e:
        settings.print_error(str(e))
        return 2
    handler = log_format.configure(logging.StreamHandler(sys.stderr), values["log_format"])
    logging.getLogger().handlers[:] = [handler]
    logging.getLogger().setLevel(parse_log_level(values["log_level"]))
    _log.setLevel(min(logging.INFO, logging.getLogger().level))
    why = missing()
    if why is not None:
        _log.error("%s", why)
        return 3
    from .certificate import spki_hash
    from .server import H3Listener

    host, _, port = values["listen_h3"].rpartition(":")
    certificate, key = os.environ.get("WS_TLS_CERT", ""), os.environ.get("WS_TLS_KEY", "")
    try:
        keylog = values["tls_keylog"] or None
        listener = H3Listener(None, host or "0.0.0.0", int(port), certificate, key, values["timeout"], keylog)
        listener.start()
    except Exception as e:  # noqa: BLE001 - one line, and the entrypoint does not retry
        _log.error("cannot serve HTTP/3 on udp %s: %s", values["listen_h3"], e)
        return 3
    _drop_privileges()
    site = ApplianceSite(site_options(values), values["run_dir"])
    site.json_lines = values["log_format"] == "json"
    listener.site = site
    with open(certificate, "rb") as f:
        spki = spki_hash(f.read())
    _log.info("HTTP/3 (RFC 9220) on udp %s:%s; certificate SPKI hash %s", *listener.address[:2], spki)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    stopping.wait()
    closed = registry.close_all()
    # Handlers get what the entrypoint's deadline gives Apache's, less a second to stop in.
    deadline = time.monotonic() + max(values["stop_timeout"] - 1, 0.5)
    while registry.count() and time.monotonic() < deadline:
        time.sleep(0.05)
    running = registry.count()
    listener.stop()
    _log.info(
        "HTTP/3 listener stopped (%d WebSocket(s) closed with 1001%s)",
        closed,
        f"; {running} handler(s) still running were cut off" if running else "",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
