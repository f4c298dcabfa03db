"""What the standalone server serves, whatever the transport: its site.

``Site`` holds what the HTTP/1.1 listener (``server``) and the HTTP/3 one
(``adapters.h3``) share: the handler dispatcher, the stream options (limits, origins,
the buffer budget), the WebSocket capacity, the idle timeout, Basic authentication,
and the answers to everything that is not a WebSocket (``plain_answer``: the document
root's files, the client-conformance page and its reports, refusals). It is built from
the standalone server's options (``cli``'s namespace; a missing attribute gets its
default from ``runtime.settings``).
"""

from __future__ import annotations

import base64
import hmac
import logging
import mimetypes
import os
import time
from urllib.parse import unquote, urlsplit

from ...client_conformance.service import BASE as CONFORMANCE_BASE
from ...client_conformance.service import builtin_suites
from ...core.handshake import parse_allowed_origins
from ...runtime import capture_flow, compat, flow, settings
from ...runtime.blocking_stream import StreamOptions
from ...runtime.capacity import BufferBudget, Capacity
from ...runtime.dispatcher import Dispatcher, DispatchException
from ...runtime.listeners import READY_PATH
from .http_head import error_answer

_log = logging.getLogger("mod_pywebsocket.server")
_access = logging.getLogger("mod_pywebsocket.access")

Answer = tuple[int, list[tuple[str, str]], bytes]  # status, headers, body


def _climbs_above_root(target: str) -> bool:
    """Whether the target's path has more ``..`` segments than directories (Apache answers 400)."""
    path = target.split("?", 1)[0]
    if "://" in path:
        path = urlsplit(path).path
    depth = 0
    for segment in unquote(path, errors="replace").split("/")[1:]:
        if segment == "..":
            depth -= 1
            if depth < 0:
                return True
        elif segment not in ("", "."):
            depth += 1
    return False


# The built-in client-conformance suite's reports and page (see client_conformance).
REPORTS_PATH = CONFORMANCE_BASE + "/reports"
CONFORMANCE_PAGE_PATH = "/client-conformance.html"
CONFORMANCE_PAGE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "client_conformance", "static",
                                "client-conformance.html")  # fmt: skip
STANDALONE_REPORTS_DIR = "reports"  # relative to the working directory
CONNECTIONS_PATH = "/connections"  # the capture folder: recent connections and their captures
CAPTURE_SETTINGS = ("capture", "capture_frame_bytes", "capture_connection_bytes", "capture_total_bytes")
#: Where the certificate's SPKI hash is served (Chromium's --ignore-certificate-errors-spki-list).
SPKI_PATH = "/mod_pywebsocket/spki"


class Site:
    def __init__(self, options) -> None:
        opt = lambda name, default=None: getattr(options, name, default)  # noqa: E731
        compat.configure(opt("compat"))
        enabled = opt("client_conformance", settings.default("client_conformance"))
        reports_dir = os.path.realpath(opt("reports_dir", None) or STANDALONE_REPORTS_DIR)
        self._reports_dir = reports_dir if enabled else None
        self.dispatcher = Dispatcher(
            opt("websock_handlers", "."),
            opt("scan_dir"),
            opt("allow_handlers_outside_root_dir", False),
            opt("handler_encoding"),
            reload=opt("reload", settings.default("handler_reload")),
            builtin_suites=builtin_suites(enabled, reports_dir),
        )
        for warning in self.dispatcher.source_warnings():
            _log.warning("%s", warning)
        if opt("websock_handlers_map_file"):
            self._load_aliases(opt("websock_handlers_map_file"))
        self._document_root = os.path.realpath(opt("document_root", "."))
        self.stream_options = StreamOptions(
            max_message_size=opt("max_message_size", settings.default("max_message_size")),
            allowed_origins=parse_allowed_origins(opt("allowed_origins")),
            buffer_budget=BufferBudget(settings.max_buffered({"max_buffered": opt("max_buffered")}), "--max-buffered"),
            capture=capture_flow.policy_from(
                {name: opt(name, settings.default(name)) for name in CAPTURE_SETTINGS}
                | {"capture_dir": opt("capture_dir") or os.path.join(reports_dir, "captures")}
            ),
        )
        capture = self.stream_options.capture
        self._capture_dir = os.path.realpath(capture.store.directory) if capture is not None else None
        self.timeout = float(opt("timeout", settings.default("timeout")))
        self.capacity = Capacity(int(opt("max_connections", settings.default("max_connections"))), "--max-connections")
        self.spki_file: str | None = opt("spki_file")  # served at SPKI_PATH when set
        # READY_PATH answers ready_document once set, else 503 with the not_ready reason; with
        # neither (before a server turns it on) it is an ordinary path.
        self.ready_document: bytes | None = None
        self.not_ready = ""
        credential = opt("basic_auth_credential", "test:test")
        self._basic_auth = (
            b"Basic " + base64.b64encode(credential.encode("utf-8")) if opt("use_basic_auth", False) else None
        )

    def log_access(self, addr, request_line: str, status: int, started: float, user_agent: str | None = None) -> None:
        """One access-log line per request (a WebSocket's when it ends), whatever the listener."""
        _access.info('%s "%s" %d %.1fms', addr[0], request_line, status, (time.monotonic() - started) * 1000)

    def _load_aliases(self, path: str) -> None:
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                line = line.split("#", 1)[0].strip()
                if not line:
                    continue
                parts = line.split()
                if len(parts) != 2:
                    _log.error("%s:%d: expected 'alias existing', got %r", path, number, line)
                    continue
                try:
                    self.dispatcher.add_resource_path_alias(parts[0], parts[1])
                except DispatchException as e:
                    _log.error("%s:%d: %s", path, number, e)

    def refuse_upgrade(self, target: str, headers) -> flow.Refusal | None:
        """What stops a WebSocket request before its handler is looked up: a path that
        leaves the root (400), missing credentials under --basic-auth (401)."""
        if _climbs_above_root(target):
            return flow.Refusal(400, "the path leaves the root")
        return self._check_credentials(headers)

    def _check_credentials(self, headers) -> flow.Refusal | None:
        if self._basic_auth is None:
            return None
        given = (headers.get("Authorization") or "").encode("latin-1")
        if hmac.compare_digest(given, self._basic_auth):
            return None
        return flow.Refusal(401, "authentication required", [("WWW-Authenticate", 'Basic realm="Pywebsocket"')])

    def plain_answer(self, method: str, target: str, headers) -> Answer:
        """``(status, headers, body)`` for a request that is not a WebSocket: a refusal on
        a handler's resource (426), else a file of the site, or the error."""
        refusal = self.refuse_upgrade(target, headers)
        if refusal is None and target.split("?", 1)[0] == READY_PATH and (self.ready_document or self.not_ready):
            return self._ready_answer(method)
        if refusal is None:
            refusal = flow.refuse_plain_request(target, self.dispatcher)
        if refusal is not None:
            return error_answer(refusal.status, refusal.message, refusal.headers)
        return self._file_answer(method, target)

    def ready_state(self) -> tuple[bytes | None, str]:
        """(the ready document, or None and why not ready)."""
        return self.ready_document, self.not_ready

    def _ready_answer(self, method: str) -> Answer:
        if method not in ("GET", "HEAD"):
            return error_answer(405, "only GET and HEAD", [("Allow", "GET, HEAD")])
        document, reason = self.ready_state()
        if document is None:
            return error_answer(503, f"not ready: {reason}", [("Retry-After", "1"), ("Cache-Control", "no-store")])
        return 200, [("Content-Type", "application/json"), ("Cache-Control", "no-store")], document

    def _file_answer(self, method: str, target: str) -> Answer:
        if method not in ("GET", "HEAD"):
            return error_answer(405, "only GET and HEAD", [("Allow", "GET, HEAD")])
        path = self._resolve(target)
        if path is None:
            return error_answer(404, "not found")
        if path.endswith("_wsh.py"):
            return error_answer(403, "handler sources are not served")
        try:
            with open(path, "rb") as f:
                body = f.read()
        except OSError:
            return error_answer(404, "not found")
        content_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
        if content_type.startswith("text/") or content_type in ("application/javascript", "application/json"):
            content_type += "; charset=utf-8"
        return 200, [("Content-Type", content_type)], body

    def _resolve(self, target: str) -> str | None:
        """The file a request target names: in the reports folder under ``/autobahn/reports/``,
        else in the document root (where the client-conformance page is added), or None."""
        path = urlsplit(target).path if not target.startswith("/") else target.split("?", 1)[0]
        try:
            path = unquote(path, errors="strict")
        except UnicodeDecodeError:
            return None
        if "\0" in path or "\\" in path or not path.startswith("/"):
            return None
        if any(part == ".." for part in path.split("/")):
            return None
        if path == SPKI_PATH and self.spki_file is not None:
            return self.spki_file
        if self._capture_dir is not None and (path + "/").startswith(CONNECTIONS_PATH + "/"):
            return _file_under(self._capture_dir, path[len(CONNECTIONS_PATH) :])
        if self._reports_dir is not None and (path + "/").startswith(REPORTS_PATH + "/"):
            return _file_under(self._reports_dir, path[len(REPORTS_PATH) :])
        found = _file_under(self._document_root, path)
        if found is None and self._reports_dir is not None and path == CONFORMANCE_PAGE_PATH:
            return CONFORMANCE_PAGE
        return found


def _file_under(root: str, path: str) -> str | None:
    """The file ``path`` (checked: absolute, no ``..``) names under ``root``, or None."""
    full = os.path.realpath(os.path.join(root, path.lstrip("/")))
    if full != root and not full.startswith(root + os.sep):
        return None
    if os.path.isdir(full):
        full = os.path.join(full, "index.html")
    return full if os.path.isfile(full) else None
