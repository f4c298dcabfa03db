"""The standalone server's command line: pywebsocket3's flags, logging, signals.

The flags keep pywebsocket3's long and short forms (most with an underscore alias
too), so scripts and harnesses written for it keep working; ``standalone`` (the
module) gives them, and the embedding API, under pywebsocket's name. SIGTERM or
SIGINT closes every open WebSocket with 1001 and exits 0.
"""

from __future__ import annotations

import argparse
import configparser
import logging
import logging.handlers
import os
import signal
import sys
import threading

from ... import __version__
from ...runtime import log_format, settings
from ...runtime.capacity import set_switch_interval
from ...runtime.log_levels import parse_log_level
from .server import WebSocketServer
from .site import STANDALONE_REPORTS_DIR

__all__ = ["WebSocketServer", "_parse_args_and_config", "main"]

_log = logging.getLogger("mod_pywebsocket.standalone")


def _build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m mod_pywebsocket.standalone",
        description="Serve *_wsh.py WebSocket handlers (and static files) without Apache.",
    )
    add = p.add_argument

    def setting(name: str, *aliases: str) -> None:
        """A flag of the shared settings table: its name, default, parser and help from there."""
        entry = settings.BY_NAME[name]
        add(
            entry.flag,
            *aliases,
            dest=name,
            type=_flag_type(entry),
            default=entry.default,
            help=entry.help if entry.default is None else f"{entry.help} (default {entry.default or 'none'})",
        )

    def toggle(name: str, dest: str | None = None) -> None:
        """An on/off setting as ``--flag`` / ``--no-flag``."""
        entry = settings.BY_NAME[name]
        default = "on" if entry.default else "off"
        add(entry.flag, dest=dest or name, action=argparse.BooleanOptionalAction, default=entry.default,
            help=f"{entry.help} (default {default})")  # fmt: skip

    add("--config", dest="config_file", metavar="FILE", help="INI file with a [pywebsocket] section of these options")
    add("--version", action="version", version=f"mod_pywebsocket {__version__}")
    add("-H", "--server-host", "--server_host", dest="server_host", default="", help="address to bind (default: all)")
    add("-V", "--validation-host", "--validation_host", dest="validation_host", help="accepted, ignored")
    add("-p", "--port", dest="port", type=int, default=80, help="port to listen on; 0 picks a free one (default 80)")
    add("-P", "--validation-port", "--validation_port", dest="validation_port", type=int, help="accepted, ignored")
    add(
        "-w",
        "--websock-handlers",
        "--websock_handlers",
        dest="websock_handlers",
        default=".",
        help="handler root: resource /a/b is served by <root>/a/b_wsh.py (default .)",
    )
    add(
        "-m",
        "--websock-handlers-map-file",
        "--websock_handlers_map_file",
        dest="websock_handlers_map_file",
        help="file of 'alias existing' resource pairs, one per line",
    )
    add("-s", "--scan-dir", "--scan_dir", dest="scan_dir", help="load handlers only from this folder of the root")
    add(
        "--allow-handlers-outside-root-dir",
        "--allow_handlers_outside_root_dir",
        dest="allow_handlers_outside_root_dir",
        action="store_true",
        default=settings.default("allow_handlers_outside_root_dir"),
        help=settings.BY_NAME["allow_handlers_outside_root_dir"].help,
    )
    add(
        "-d",
        "--document-root",
        "--document_root",
        dest="document_root",
        default=".",
        help="static files served over http(s) on the same port (default .)",
    )
    add("-x", "--cgi-paths", "--cgi_paths", dest="cgi_paths", help="accepted, ignored: CGI is not supported")
    add("-t", "--tls", dest="use_tls", action="store_true", help="serve wss:// and https:// only")
    add("-k", "--private-key", "--private_key", dest="private_key", default="", help="TLS private key (PEM)")
    add("-c", "--certificate", dest="certificate", default="", help="TLS certificate chain (PEM)")
    add("--tls-client-auth", dest="tls_client_auth", action="store_true", help="require client certificates")
    add("--tls-client-ca", dest="tls_client_ca", default="", help="CA bundle to verify client certificates")
    add(
        "--tls-client-cert-optional",
        dest="tls_client_cert_optional",
        action="store_true",
        help="ask for a client certificate but accept clients without one",
    )
    add(
        "--h3-port",
        dest="h3_port",
        type=int,
        default=None,
        help="also serve WebSockets over HTTP/3 (RFC 9220) and the pages on this UDP port; needs aioquic "
        "(default: off; 0 picks a free port)",
    )
    setting("tls_keylog")
    add("--basic-auth", dest="use_basic_auth", action="store_true", help="require HTTP Basic authentication")
    add(
        "--basic-auth-credential",
        dest="basic_auth_credential",
        default="test:test",
        help="user:password for --basic-auth (default test:test)",
    )
    setting("log_level", "--log_level")
    setting("log_format")
    setting("capture")
    setting("capture_dir")
    setting("capture_frame_bytes")
    setting("capture_connection_bytes")
    setting("capture_total_bytes")
    add("--deflate-log-level", "--deflate_log_level", dest="deflate_log_level", help="accepted, ignored")
    add("-l", "--log-file", "--log_file", dest="log_file", default="", help="log to this file instead of stderr")
    add("--log-max", "--log_max", dest="log_max", type=int, default=262144, help="rotate the log file at this size")
    add("--log-count", "--log_count", dest="log_count", type=int, default=5, help="rotated log files to keep")
    add(
        "--thread-monitor-interval-in-sec",
        "--thread_monitor_interval_in_sec",
        dest="thread_monitor_interval_in_sec",
        type=int,
        default=-1,
        help="accepted, ignored",
    )
    add("-q", "--queue", dest="request_queue_size", type=int, default=128, help="listen backlog (default 128)")
    add("--handler-encoding", "--handler_encoding", dest="handler_encoding", help="encoding of handler files")
    setting("max_message_size", "--max_message_size")
    setting("max_connections", "--max_connections")
    setting("max_buffered", "--max_buffered")
    setting("switch_interval")
    toggle("handler_reload", "reload")
    toggle("client_conformance")
    add(
        "--reports-dir",
        dest="reports_dir",
        default=STANDALONE_REPORTS_DIR,
        help=f"where client-conformance reports are written (default ./{STANDALONE_REPORTS_DIR})",
    )
    setting("header_timeout")
    setting("allowed_origins")
    setting("compat")
    setting("timeout")
    return p  # fmt: skip


def _flag_type(entry: settings.Setting):
    def parse(value: str):
        try:
            return entry.parse(value)
        except ValueError as e:
            raise argparse.ArgumentTypeError(f"{e}, not {value!r}") from None

    parse.__name__ = entry.name
    return parse


def _config_args(path: str, parser: argparse.ArgumentParser) -> list[str]:
    """Turn a ``[pywebsocket]`` INI section into arguments that come before the command line's."""
    config = configparser.ConfigParser()
    if not config.read(path, encoding="utf-8"):
        parser.error(f"cannot read the config file {path}")
    if not config.has_section("pywebsocket"):
        parser.error(f"{path} has no [pywebsocket] section")
    flags = {}
    for action in parser._actions:
        for option in action.option_strings:
            flags[option.lstrip("-").replace("_", "-")] = action
    args: list[str] = []
    for key, value in config.items("pywebsocket"):
        action = flags.get(key.replace("_", "-"))
        if action is None or action.dest == "config_file":
            parser.error(f"{path}: unknown option {key!r}")
        option = action.option_strings[-1] if action.option_strings[-1].startswith("--") else action.option_strings[0]
        if action.nargs == 0:  # a flag: on or off, spelled as every boolean setting is
            try:
                on = settings.parse_bool(value)
            except ValueError as e:
                parser.error(f"{path}: {key} {e}, not {value!r}")
            if on:
                args.append(option)
        else:
            args += [option, value]
    return args


def _parse_args_and_config(args: list[str]) -> tuple[argparse.Namespace, list[str]]:
    """Options from an optional ``--config`` file, overridden by ``args``."""
    parser = _build_parser()
    pre, _ = parser.parse_known_args(args)
    if pre.config_file:
        args = _config_args(pre.config_file, parser) + list(args)
    options, remaining = parser.parse_known_args(args)
    if options.use_tls and not (options.private_key and options.certificate):
        parser.error("--tls needs --private-key and --certificate")
    if options.tls_client_auth and not options.use_tls:
        parser.error("--tls-client-auth needs --tls")
    try:
        parse_log_level(options.log_level)
    except ValueError as e:
        parser.error(str(e))
    options.cgi_directories = []
    options.is_executable_method = None
    return options, remaining


def _configure_logging(options: argparse.Namespace) -> None:
    if options.log_file:
        handler: logging.Handler = logging.handlers.RotatingFileHandler(
            options.log_file, maxBytes=options.log_max, backupCount=options.log_count
        )
    else:
        handler = logging.StreamHandler(sys.stderr)
    log_format.configure(handler, getattr(options, "log_format", "text"))  # embedders pass their own options
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(parse_log_level(options.log_level))
    logging.getLogger("mod_pywebsocket.standalone").setLevel(min(logging.INFO, root.level))


def _resolve_against_document_root(options: argparse.Namespace) -> None:
    """pywebsocket changed into -d, so relative -w/-s/-m paths were relative to it: keep that."""
    for name in ("websock_handlers", "scan_dir", "websock_handlers_map_file"):
        value = getattr(options, name)
        if value and not os.path.isabs(value):
            setattr(options, name, os.path.join(options.document_root, value))


def main(argv: list[str] | None = None) -> int:
    options, remaining = _parse_args_and_config(sys.argv[1:] if argv is None else argv)
    _configure_logging(options)
    if remaining:
        _log.warning("ignoring unknown arguments: %s", " ".join(remaining))
    _resolve_against_document_root(options)
    set_switch_interval(options.switch_interval)
    try:
        server = WebSocketServer(options)
    except Exception as e:  # noqa: BLE001 - a start-up error is one clear line, not a traceback
        _log.critical("cannot start: %s", e)
        return 2

    def stop(signum, frame) -> None:
        _log.info("%s: closing open WebSockets with 1001 and stopping", signal.Signals(signum).name)
        threading.Thread(target=server.shutdown, name="shutdown", daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    addresses = ", ".join(f"{a[4][0]}:{a[4][1]}" for _, a in server._sockets)
    _log.info(
        "listening on %s (%s), handlers from %s: %s",
        addresses,
        server.scheme,
        os.path.abspath(options.websock_handlers),
        " ".join(server._dispatcher.resources()) or "none",
    )
    if options.tls_keylog:
        _log.warning("TLS key log on: the secrets of every TLS and QUIC connection go to %s (test machines only)",
                     options.tls_keylog)  # fmt: skip
    capture = server.site.stream_options.capture
    if capture is not None:
        which = "every WebSocket connection" if capture.store.mode == "all" else "WebSocket connections that go wrong"
        _log.warning("capture on: %s, as pcapng files in %s; /connections/ lists them",
                     which, os.path.abspath(capture.store.directory))  # fmt: skip
    if server.h3 is not None:
        host, port = server.h3.address[:2]
        _log.info(
            "HTTP/3 on udp %s:%d; its certificate's SPKI hash (for Chromium's "
            "--ignore-certificate-errors-spki-list): %s",
            host,
            port,
            server.h3_spki,
        )
    server.serve_forever()
    server.shutdown()
    server.server_close()
    _log.info("stopped")
    return 0
