"""Every setting once: its name, default, parser and validation, for every entry point.

The standalone server's flags (``standalone``), Apache's ``PythonOption``s
(``headerparserhandler``) and the container's ``WS_*`` environment (the image's
entrypoint runs ``python3 -m mod_pywebsocket.runtime.settings``) are all read through the
``SETTINGS`` table below, so a default, a spelling of "on" or a limit cannot differ
between them. ``tests/unit/test_settings.py`` checks that they agree.

``python3 -m mod_pywebsocket.runtime.settings`` reads the ``WS_*`` environment, checks it
(values, the handler folders, the balancer's members), and prints it back as shell
``export`` lines with every default filled in and the values Apache's configuration
derives from them; on a bad value it prints one line saying what to change and
exits 2.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from . import compat
from .capacity import SPARE_THREADS, SWITCH_INTERVAL
from .log_levels import parse_log_level

MiB = 1024 * 1024
TRUE_WORDS = frozenset({"on", "yes", "true", "1"})
FALSE_WORDS = frozenset({"off", "no", "false", "0"})


class SettingError(ValueError):
    """A value a setting does not accept; the message says which and what it takes."""


def parse_bool(value: str) -> bool:
    word = value.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError("must be on or off")


def parse_positive_int(value: str) -> int:
    text = value.strip()
    if not re.fullmatch(r"[0-9]+", text) or int(text) <= 0:
        raise ValueError("must be a positive number")
    return int(text)


_SIZE_UNITS = {"": 1, "k": 1024, "m": MiB, "g": 1024 * MiB}


def parse_size(value: str) -> int:
    """Bytes: ``67108864``, or with a binary unit, ``64M``, ``512K``, ``1G``."""
    match = re.fullmatch(r"([0-9]+)\s*([kmg]?)(i?b)?", value.strip().lower())
    if match is None or int(match.group(1)) <= 0:
        raise ValueError("must be a positive number")
    return int(match.group(1)) * _SIZE_UNITS[match.group(2)]


def parse_positive_number(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ValueError("must be a positive number") from None
    if not number > 0 or number == float("inf"):
        raise ValueError("must be a positive number")
    return number


def parse_level(value: str) -> str:
    try:
        parse_log_level(value)
    except ValueError:
        raise ValueError("must be one of debug, info, warn, error, crit") from None
    return value.strip().lower()


def parse_text(value: str) -> str:
    return value.strip()


def parse_listen(value: str) -> str:
    port = value.strip().rpartition(":")[2]
    if not re.fullmatch(r"[0-9]+", port) or not 0 < int(port) <= 65535:
        raise ValueError("must be a port or address:port")
    return value.strip()


def parse_choice(*choices: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        word = value.strip().lower()
        if word not in choices:
            raise ValueError(f"must be {' or '.join(choices)}")
        return word

    return parse


@dataclass(frozen=True)
class Setting:
    """One setting. ``env``: its ``WS_*`` variable; ``option``: its ``PythonOption`` (after
    ``mod_pywebsocket.``); ``flag``: its standalone flag; ``unit``: for messages."""

    name: str
    default: Any
    parse: Callable[[str], Any]
    help: str
    env: str | None = None
    option: str | None = None
    flag: str | None = None
    unit: str = ""

    def read(self, raw: str | None, where: str) -> Any:
        """The parsed value of ``raw`` (None or empty: the default); ``where`` names it in errors."""
        if raw is None or raw.strip() == "":
            return self.default
        try:
            return self.parse(raw)
        except ValueError as e:
            unit = f" of {self.unit}" if self.unit and "number" in str(e) else ""
            raise SettingError(f"{where} {e}{unit}, not {raw!r}") from None


SETTINGS: tuple[Setting, ...] = (
    # -- the handlers -------------------------------------------------------------
    Setting("handler_root", "/srv/handlers", parse_text, "the handler folder (standalone: -w, default .)",
            env="WS_HANDLER_ROOT", option="handler_root"),
    Setting("handler_scan", "", parse_text, "load handlers only from this folder of the root (default: the root)",
            env="WS_HANDLER_SCAN", option="handler_scan"),
    Setting("document_root", "", parse_text, "static files (default: the handler root)", env="WS_DOCUMENT_ROOT"),
    Setting("allow_handlers_outside_root_dir", False, parse_bool, "follow handler symlinks out of the root",
            env="WS_ALLOW_HANDLERS_OUTSIDE_ROOT", option="allow_handlers_outside_root_dir",
            flag="--allow-handlers-outside-root-dir"),
    Setting("handler_reload", True, parse_bool, "load handler files again when they change, and find new ones",
            env="WS_HANDLER_RELOAD", option="handler_reload", flag="--reload"),
    # -- limits -------------------------------------------------------------------------
    Setting("max_message_size", 64 * MiB, parse_size, "largest message accepted; bigger ones get close 1009",
            env="WS_MAX_MESSAGE_SIZE", option="max_message_size", flag="--max-message-size", unit="bytes"),
    Setting("max_buffered", None, parse_size,
            "message data all WebSockets of a process may hold at once; the one that would pass it gets close 1009 "
            "(default: a quarter of the container's memory limit, else 1 GiB)",
            env="WS_MAX_BUFFERED", option="max_buffered", flag="--max-buffered", unit="bytes"),
    Setting("timeout", 60, parse_positive_number, "seconds of silence before a ping; twice that, the client is dropped",
            env="WS_TIMEOUT", flag="--timeout", unit="seconds"),
    Setting("header_timeout", 20, parse_positive_number, "seconds for the TLS handshake and the whole request head",
            env="WS_HEADER_TIMEOUT", flag="--header-timeout", unit="seconds"),
    Setting("max_connections", 1024, parse_positive_int,
            "WebSockets served at once per process (a thread each); past it, upgrades get 503",
            env="WS_THREADS", option="max_connections", flag="--max-connections"),
    Setting("switch_interval", SWITCH_INTERVAL, parse_positive_number,
            "seconds a busy thread may hold Python's GIL before another gets it (Python's own default: 0.005)",
            env="WS_SWITCH_INTERVAL", option="switch_interval", flag="--switch-interval", unit="seconds"),
    Setting("allowed_origins", "", parse_text, "origins allowed to connect, comma- or space-separated (default: any)",
            env="WS_ALLOWED_ORIGINS", option="allowed_origins", flag="--allowed-origins"),
    # -- the built-in client-conformance suite (/autobahn) --------------------------------
    Setting("client_conformance", True, parse_bool, "serve the Autobahn client-conformance cases at /autobahn",
            env="WS_CLIENT_CONFORMANCE", option="client_conformance", flag="--client-conformance"),
    Setting("reports_dir", "/srv/reports", parse_text,
            "where client-conformance reports are written (standalone: --reports-dir, default ./reports)",
            env="WS_REPORTS_DIR", option="reports_dir"),
    Setting("compat", None, compat.parse,
            "answer as RFC 6455/7692 say (rfc) or as pywebsocket3 did (pywebsocket3), where they differ "
            "(default: rfc; embedders read WS_COMPAT)",
            env="WS_COMPAT", option="compat", flag="--compat"),
    Setting("log_level", "warn", parse_level, "debug, info (a line per WebSocket), warn, error or crit",
            env="WS_LOG_LEVEL", option="log_level", flag="--log-level"),
    Setting("log_format", "text", parse_choice("text", "json"),
            "text, or json: one JSON object per line, with the connection's id on each line of a connection",
            env="WS_LOG_FORMAT", option="log_format", flag="--log-format"),
    # -- capture (see docs/operations.md, "Seeing the wire") -----------------------------
    Setting("capture", "off", parse_choice("off", "errors", "all"),
            "a pcapng file per WebSocket connection: off, errors (those that ended abnormally or whose handler "
            "raised) or all; also turns /connections/ on",
            env="WS_CAPTURE", option="capture", flag="--capture"),
    Setting("capture_dir", "", parse_text, "where captures go (default: the reports folder's captures/)",
            env="WS_CAPTURE_DIR", option="capture_dir", flag="--capture-dir"),
    Setting("capture_frame_bytes", 4096, parse_size,
            "payload bytes kept of each frame; the rest is summarised in the packet's comment",
            env="WS_CAPTURE_FRAME_BYTES", option="capture_frame_bytes", flag="--capture-frame-bytes", unit="bytes"),
    Setting("capture_connection_bytes", 4 * MiB, parse_size,
            "bytes kept of one connection; past it the capture says what it left out",
            env="WS_CAPTURE_CONNECTION_BYTES", option="capture_connection_bytes",
            flag="--capture-connection-bytes", unit="bytes"),
    Setting("capture_total_bytes", 256 * MiB, parse_size,
            "all captures together; past it the oldest are deleted",
            env="WS_CAPTURE_TOTAL_BYTES", option="capture_total_bytes", flag="--capture-total-bytes", unit="bytes"),
    # -- the container only --------------------------------------------------------------
    Setting("processes", 1, parse_positive_int, "Apache child processes (handler state is per process)",
            env="WS_PROCESSES"),
    Setting("stop_timeout", 8, parse_positive_int, "seconds handlers get after SIGTERM", env="WS_STOP_TIMEOUT",
            unit="seconds"),
    Setting("http2", True, parse_bool, "HTTP/2 (and RFC 8441 WebSockets) on the TLS port", env="WS_HTTP2"),
    Setting("h3", True, parse_bool, "WebSockets over HTTP/3 (RFC 9220) and the pages on UDP, beside Apache",
            env="WS_H3"),
    Setting("listen_h3", "443", parse_listen, "the HTTP/3 (QUIC) UDP port or address:port", env="WS_LISTEN_H3"),
    Setting("tls_session_tickets", False, parse_bool, "TLS session tickets", env="WS_TLS_SESSION_TICKETS"),
    Setting("listen_http", "80", parse_listen, "the ws/http port or address:port", env="WS_LISTEN_HTTP"),
    Setting("listen_https", "443", parse_listen, "the wss/https port or address:port", env="WS_LISTEN_HTTPS"),
    Setting("server_name", "localhost", parse_text, "ServerName and the self-signed certificate's name",
            env="WS_SERVER_NAME"),
    Setting("tls_dir", "/etc/mod_pywebsocket/tls", parse_text, "where cert.pem and key.pem are mounted",
            env="WS_TLS_DIR"),
    Setting("tls_keylog", "", parse_text,
            "append the TLS key material of every connection to this file (NSS key log, for Wireshark); "
            "test machines only: whoever reads it decrypts the traffic",
            env="WS_TLS_KEYLOG", flag="--tls-keylog"),
    Setting("tls_extra_san", "", parse_text, "more subjectAltNames for the self-signed certificate",
            env="WS_TLS_EXTRA_SAN"),
    Setting("run_dir", "/run/mod_pywebsocket", parse_text, "Apache's run-time files", env="WS_RUN_DIR"),
    Setting("role", "appliance", parse_choice("appliance", "balancer"), "serve handlers, or balance replicas",
            env="WS_ROLE"),
    Setting("balancer_members", "", parse_text, "the replicas as host:port, for WS_ROLE=balancer",
            env="WS_BALANCER_MEMBERS"),
)  # fmt: skip
BY_NAME = {s.name: s for s in SETTINGS}
OPTION_PREFIX = "mod_pywebsocket."


def default(name: str) -> Any:
    return BY_NAME[name].default


# -- the buffer budget's default ------------------------------------------------------

#: The budget without a memory limit to derive it from.
FALLBACK_MAX_BUFFERED = 1024 * MiB
#: Where a container's memory limit is (cgroup v2, then v1); no limit reads "max" or a huge number.
CGROUP_MEMORY_LIMITS = ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes")


def memory_limit(paths: tuple[str, ...] = CGROUP_MEMORY_LIMITS) -> int | None:
    """The container's memory limit in bytes, or None when it has none."""
    for path in paths:
        try:
            with open(path, encoding="ascii") as f:
                text = f.read().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 1 << 60:
            return int(text)
        return None
    return None


def default_max_buffered(processes: int = 1, limit: int | None = None) -> int:
    """A quarter of the memory limit, shared by the processes; 1 GiB without a limit.

    A quarter because a held message costs more than its bytes at times (the handler's
    own copies, a 4 MiB read in flight per connection, the interpreter and Apache
    themselves), measured in tests/integration/test_memory_budget.py."""
    if limit is None:
        return FALLBACK_MAX_BUFFERED
    return max(limit // 4 // max(processes, 1), MiB)


def max_buffered(values: Mapping[str, Any], processes: int = 1) -> int:
    return values.get("max_buffered") or default_max_buffered(processes, memory_limit())


# -- PythonOption (Apache) ---------------------------------------------------------


def from_python_options(options: Mapping[str, str]) -> dict[str, Any]:
    """The ``PythonOption mod_pywebsocket.*`` settings, parsed, defaults filled in.

    Without ``handler_root`` there is nothing to serve: that is an error here.
    """
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        if setting.option is not None:
            name = OPTION_PREFIX + setting.option
            values[setting.name] = setting.read(options.get(name), f"PythonOption {name}")
    values["shutdown_file"] = (options.get(OPTION_PREFIX + "shutdown_file") or "").strip()
    values["capture_dir"] = capture_dir(values)
    if not options.get(OPTION_PREFIX + "handler_root"):
        raise SettingError(f"PythonOption {OPTION_PREFIX}handler_root is not set")
    return values


# -- the container's environment ---------------------------------------------------------


def from_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    """Every ``WS_*`` setting, parsed and checked against the others, defaults filled in."""
    values = {s.name: s.read(environ.get(s.env), s.env) for s in SETTINGS if s.env is not None}
    values["handler_scan"] = values["handler_scan"] or values["handler_root"]
    values["compat"] = values["compat"] or compat.RFC.name
    values["max_buffered"] = max_buffered(values, values["processes"])
    values["document_root"] = values["document_root"] or values["handler_root"]
    values["capture_dir"] = capture_dir(values)
    for name in ("timeout", "header_timeout"):  # Apache's Timeout and RequestReadTimeout take whole seconds
        if not float(values[name]).is_integer():
            raise SettingError(
                f"{BY_NAME[name].env} must be a whole number of seconds under Apache, not {values[name]}"
            )
    if values["listen_http"].rpartition(":")[2] == values["listen_https"].rpartition(":")[2]:
        raise SettingError("WS_LISTEN_HTTP and WS_LISTEN_HTTPS need different ports")
    if values["role"] == "balancer":
        values["balancer_members"] = " ".join(balancer_members(values["balancer_members"]))
    return values


def capture_dir(values: Mapping[str, Any]) -> str:
    """``WS_CAPTURE_DIR``, by default the reports folder's ``captures/``."""
    return values.get("capture_dir") or os.path.join(values.get("reports_dir") or "reports", "captures")


def check_folders(values: Mapping[str, Any], user: str = "www-data") -> None:
    """The handler folders exist, are folders, nest, and Apache's user can read them."""
    root, scan, docs = values["handler_root"], values["handler_scan"], values["document_root"]
    if not os.path.exists(root):
        raise SettingError(
            f"WS_HANDLER_ROOT={root} does not exist; mount your handler folder there "
            f'(docker run -v "$PWD/handlers:{root}:ro" ...)'
        )
    if not os.path.isdir(root):
        raise SettingError(f"WS_HANDLER_ROOT={root} is not a directory; mount a folder of *_wsh.py files there")
    if os.geteuid() == 0 and _user_exists(user):
        readable = subprocess.run(["runuser", "-u", user, "--", "test", "-r", root, "-a", "-x", root], check=False)
        if readable.returncode != 0:
            raise SettingError(
                f"WS_HANDLER_ROOT={root} is not readable by the {user} user; make it world-readable (chmod -R a+rX)"
            )
    if not os.path.isdir(scan):
        raise SettingError(f"WS_HANDLER_SCAN={scan} is not a directory")
    real_root, real_scan = os.path.realpath(root), os.path.realpath(scan)
    if real_scan != real_root and not real_scan.startswith(real_root.rstrip("/") + "/"):
        raise SettingError(f"WS_HANDLER_SCAN={scan} must be inside WS_HANDLER_ROOT={root}")
    if not os.path.isdir(docs):
        raise SettingError(f"WS_DOCUMENT_ROOT={docs} is not a directory")


def _user_exists(user: str) -> bool:
    try:
        import pwd

        pwd.getpwnam(user)
    except (ImportError, KeyError):
        return False
    return True


_MEMBER = re.compile(r"([A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\]):([0-9]+)")


def balancer_members(value: str) -> list[str]:
    """``'replica1:80 replica2:80'`` (or comma-separated) as a checked list of host:port."""
    members = value.replace(",", " ").split()
    if not members:
        raise SettingError(
            "WS_ROLE=balancer needs WS_BALANCER_MEMBERS, the replicas as host:port (e.g. 'replica1:80 replica2:80')"
        )
    seen: set[str] = set()
    for member in members:
        match = _MEMBER.fullmatch(member)
        if match is None or not 0 < int(match.group(3)) <= 65535:
            raise SettingError(f"WS_BALANCER_MEMBERS: '{member}' is not host:port (e.g. replica1:80)")
        if member in seen:
            raise SettingError(f"WS_BALANCER_MEMBERS lists {member} twice")
        seen.add(member)
    return members


_APACHE_LEVELS = {"warning": "warn", "critical": "crit", "fine": "debug", "trace": "debug"}


def shell_environment(values: Mapping[str, Any]) -> dict[str, str]:
    """The ``WS_*`` variables Apache's configuration expands: the settings, then what derives from them."""

    def text(value: Any) -> str:
        if isinstance(value, bool):
            return "on" if value else "off"
        return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)

    out = {s.env: text(values[s.name]) for s in SETTINGS if s.env is not None}
    level = values["log_level"]
    out["WS_APACHE_LOG_LEVEL"] = _APACHE_LEVELS.get(level, level)
    if out["WS_APACHE_LOG_LEVEL"] in ("info", "notice"):
        # At info a connection gets one line, ours (connection_summary): mod_ssl's and
        # mod_http2's own lines per connection ("Connection to child ... established", ...)
        # come at debug only.
        out["WS_APACHE_LOG_LEVEL"] += " ssl:warn http2:warn"
    out["WS_TLS_PROTOCOLS"] = "h2 http/1.1" if values["http2"] else "http/1.1"
    # TLS 1.3 sends (stateful) tickets after the handshake even with SSLSessionTickets off:
    # OpenSSL's NumTickets must be 0 too when tickets are off.
    out["WS_TLS13_TICKETS"] = "2" if values["tls_session_tickets"] else "0"
    out["WS_LISTEN_HTTPS_PORT"] = values["listen_https"].rpartition(":")[2]
    # A few threads beyond the WebSocket slots answer at capacity (503) and serve plain HTTP.
    threads = values["max_connections"] + SPARE_THREADS
    out["WS_WORKER_THREADS"] = str(threads)
    out["WS_MAX_WORKERS"] = str(values["processes"] * threads)
    static = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "client_conformance", "static")
    out["WS_CLIENT_CONFORMANCE_STATIC"] = static
    out["WS_CLIENT_CONFORMANCE_PAGE"] = os.path.join(static, "client-conformance.html")
    # Longer than the replicas' own idle handling (see conf/balancer.conf).
    out["WS_PROXY_TIMEOUT"] = text(2 * values["timeout"] + 10)
    return out


def print_error(message: str) -> None:
    """A start-up error on stderr, before logging is set up: one line, JSON under
    ``WS_LOG_FORMAT=json`` (read as it is: the setting itself may be what is wrong)."""
    if os.environ.get("WS_LOG_FORMAT", "").strip().lower() == "json":
        line = json.dumps({"level": "error", "logger": "mod_pywebsocket.settings", "message": message})
    else:
        line = f"mod_pywebsocket: error: {message}"
    print(line, file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """The entrypoint's check: ``export`` lines on stdout, or one error line and exit 2.

    ``balancer-members FILE`` writes the balancer's members for conf/balancer.conf instead.
    """
    argv = sys.argv[1:] if argv is None else argv
    try:
        values = from_environment(os.environ)
        if argv[:1] == ["balancer-members"] and len(argv) == 2:
            lines = ["# Written by the entrypoint from WS_BALANCER_MEMBERS."]
            lines += [
                f"BalancerMember http://{m} ${{WS_MEMBER_PARAMETERS}}" for m in values["balancer_members"].split()
            ]
            with open(argv[1], "w", encoding="utf-8") as out:
                out.write("\n".join(lines) + "\n")
            return 0
        if argv:
            print("usage: python3 -m mod_pywebsocket.runtime.settings [balancer-members FILE]", file=sys.stderr)
            return 2
        if values["role"] == "appliance":
            check_folders(values)
    except SettingError as e:
        print_error(str(e))
        return 2
    for name, value in shell_environment(values).items():
        print(f"export {name}={shlex.quote(value)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
