"""The mod_python adapter: ``PythonHeaderParserHandler mod_pywebsocket.headerparserhandler``.

Apache parses the HTTP request; this module takes over the connection for
WebSocket upgrades and declines everything else, so Apache serves it as usual.
Options (``PythonOption``, at server, vhost or location level)::

    mod_pywebsocket.handler_root                     directory of *_wsh.py files (required)
    mod_pywebsocket.handler_scan                     subdirectory to load handlers from (default: the root)
    mod_pywebsocket.allow_handlers_outside_root_dir  On|Off (default Off)
    mod_pywebsocket.max_message_size                 bytes (default 64 MiB), answered with close 1009
    mod_pywebsocket.log_level                        debug|info|warn|error|crit (default warn)
    mod_pywebsocket.handler_reload                   On|Off (default On): load handler files again when
                                                     they change, and find new ones
    mod_pywebsocket.allowed_origins                  origins allowed to connect, space- or comma-separated
                                                     (default: any); others get 403
    mod_pywebsocket.client_conformance               On|Off (default On): the Autobahn client-conformance
                                                     cases at /autobahn (client_conformance)
    mod_pywebsocket.reports_dir                      where their reports go (default /srv/reports)
    mod_pywebsocket.max_connections                  WebSockets at once per process (default 1024); past
                                                     it, upgrades get 503 with Retry-After
    mod_pywebsocket.max_buffered                     message data the process's WebSockets may hold at
                                                     once (default: a quarter of the memory limit, else
                                                     1 GiB); past it, close 1009

    mod_pywebsocket.switch_interval                  seconds between the GIL's forced hand-offs
                                                     (default 0.05; Python's own is 0.005)

These three belong to the process: the first option set to be used sets them.

Each one's default, parser and check is in ``settings`` (also used by the standalone
server's flags and the container's environment); On/Off also take yes/no, true/false
and 1/0.

    mod_pywebsocket.shutdown_file                    when this file appears, open WebSockets are
                                                     closed with 1001 (the image's entrypoint creates
                                                     it on SIGTERM, before Apache's graceful stop)

How the connection is taken over follows measured mod_python 3.5 behaviour:
``req.assbackwards = 1`` before the first write keeps Apache's own response
out of the byte stream, ``req.write`` (which releases the GIL and reports a
dead peer) carries every frame, and ``keepalive = AP_CONN_CLOSE`` with
``DONE`` ends the request so the TCP connection closes at once.
"""

from __future__ import annotations

import logging
import os
import threading
import time

from mod_python import apache  # type: ignore[import-not-found]

from ...client_conformance.service import builtin_suites
from ...core import accelerators
from ...core.handshake import is_websocket_upgrade, parse_allowed_origins
from ...runtime import capture_flow, compat, flow, registry, settings
from ...runtime import log_format as log_format_module
from ...runtime.blocking_stream import StreamOptions
from ...runtime.capacity import BufferBudget, Capacity, set_switch_interval
from ...runtime.dispatcher import Dispatcher
from ...runtime.log_levels import parse_log_level
from ...runtime.request import WebSocketRequest

_log = logging.getLogger("mod_pywebsocket")

# A read IOError after this long is Apache's Timeout, not a reset: worth one ping.
_TIMEOUT_THRESHOLD = 1.0


class _ApacheLogHandler(logging.Handler):
    """Send the package's log records to Apache's error log."""

    _LEVELS = (
        (logging.CRITICAL, apache.APLOG_CRIT),
        (logging.ERROR, apache.APLOG_ERR),
        (logging.WARNING, apache.APLOG_WARNING),
        (logging.INFO, apache.APLOG_INFO),
    )

    #: WS_LOG_FORMAT=json: the JSON line goes straight to the error log's descriptor (Apache
    #: would escape it, and add its own text around it).
    json = False

    def emit(self, record: logging.LogRecord) -> None:
        try:
            if self.json:
                os.write(2, (self.format(record) + "\n").encode("ascii"))
                return
            level = next((ap for py, ap in self._LEVELS if record.levelno >= py), apache.APLOG_DEBUG)
            for line in self.format(record).splitlines() or [""]:
                apache.log_error(line, level | apache.APLOG_NOERRNO, apache.main_server)
        except Exception:
            self.handleError(record)


def _setup_logging(log_format: str = "text") -> None:
    handler = next((h for h in _log.handlers if isinstance(h, _ApacheLogHandler)), None)
    if handler is None:
        handler = _ApacheLogHandler()
        _log.addHandler(handler)
        _log.propagate = False
        _log.setLevel(logging.WARNING)
    handler.json = log_format == "json"
    log_format_module.configure(handler, log_format, log_format_module.APACHE_TEXT_FORMAT)


_setup_logging()


_NativeIO = accelerators.load("_apacheio", "ConnIO")  # the C connection I/O, when built


class ApacheConnection:
    """``request.connection`` under Apache: mod_python's connection, made safe for frames.

    With the ``_apacheio`` accelerator, reads and writes reuse one brigade each
    (flat memory however many messages pass). Without it, writes go through
    ``req.write`` (GIL released, errors raised) after switching the request to
    raw mode, and reads map Apache's ``Timeout`` to ``TimeoutError``.
    """

    read_returns_available = True  # both read paths return what the filters have, up to n bytes

    def __init__(self, req) -> None:
        self._req = req
        self._conn = req.connection
        # RFC 8441 (mod_http2): the request is internal, on a secondary connection. The
        # 101 must go down the connection's filters (mod_http2 turns it into :status 200),
        # and the first end-of-stream on the read side ends the internal GET, not the stream.
        self._http2 = req.protocol == "HTTP/2.0"
        self._skip_eos = self._http2
        self._native = None
        if _NativeIO is not None:
            try:
                self._native = _NativeIO(req, skip_first_eos=self._http2)
            except Exception as e:  # an old mod_python without req._request_rec
                _log.debug("native I/O unavailable: %s", e)
        if self._native is not None:
            self.read = self._native.read
            self.write = self._write_native
            # Short, timed reads (the client-conformance cases); mod_python's own reads
            # cannot be timed, so without the accelerator connections lack this.
            self.set_read_timeout = self._native.set_read_timeout

    def read(self, length: int) -> bytes:
        start = time.monotonic()
        try:
            data = self._conn.read(length)
            if data is None and self._skip_eos:
                self._skip_eos = False
                data = self._conn.read(length)
        except OSError:
            if not self._conn.aborted and time.monotonic() - start >= _TIMEOUT_THRESHOLD:
                raise TimeoutError("no data within Apache's Timeout") from None
            raise ConnectionResetError("connection read error") from None
        return data or b""

    def write(self, data: bytes | bytearray | str) -> None:
        if isinstance(data, str):
            data = compat.connection_bytes(data)
        req = self._req
        if self._http2:
            self._conn.write(bytes(data))  # mod_http2 must see the 101 on the connection
            return
        if not req.assbackwards:
            req.assbackwards = 1
        req.write(bytes(data))

    def _write_native(self, data: bytes | bytearray | str) -> None:
        if isinstance(data, str):
            data = compat.connection_bytes(data)
        req = self._req
        if not req.assbackwards:
            req.assbackwards = 1  # Apache must not add a response of its own
        self._native.write(data)

    def release(self) -> None:
        """The request is ending: no more native I/O on its pool."""
        if self._native is not None:
            self._native.close()

    @property
    def remote_addr(self):
        return self._conn.client_addr

    @property
    def local_addr(self):
        return self._conn.local_addr

    def __getattr__(self, name: str):
        return getattr(self.__dict__["_conn"], name)


_OPTION_NAMES = tuple(s.option for s in settings.SETTINGS if s.option is not None) + ("shutdown_file",)
_dispatchers: dict[tuple, tuple[Dispatcher, StreamOptions, Capacity]] = {}
_dispatchers_lock = threading.Lock()


_limits: tuple[Capacity, BufferBudget] | None = None


def _set_up_process(values) -> tuple[Capacity, BufferBudget]:
    """What the whole process shares, set from the first option set it sees: its
    WebSocket slots and buffer budget (one of each: they share the process's threads
    and memory) and the interpreter's switch interval."""
    global _limits
    if _limits is None:
        budget = BufferBudget(settings.max_buffered(values), "WS_MAX_BUFFERED")
        _limits = (Capacity(values["max_connections"], "WS_THREADS"), budget)
        set_switch_interval(values["switch_interval"])
        compat.configure(values["compat"])
        _log.info("limits: %d WebSockets, %.0f MiB of message data held at once",
                  values["max_connections"], budget.limit / settings.MiB)  # fmt: skip
    return _limits


def _configure(options) -> tuple[Dispatcher, StreamOptions, Capacity]:
    """One dispatcher per distinct option set, created on first use and then shared."""
    key = tuple(options.get(settings.OPTION_PREFIX + n) for n in _OPTION_NAMES)
    found = _dispatchers.get(key)
    if found is not None:
        return found
    with _dispatchers_lock:
        found = _dispatchers.get(key)
        if found is not None:
            return found
        values = settings.from_python_options(
            {settings.OPTION_PREFIX + n: v for n, v in zip(_OPTION_NAMES, key, strict=True) if v is not None}
        )
        _log.setLevel(parse_log_level(values["log_level"]))
        _setup_logging(values["log_format"])
        root = values["handler_root"]
        builtins = builtin_suites(values["client_conformance"], values["reports_dir"])
        dispatcher = Dispatcher(
            root,
            values["handler_scan"] or None,
            values["allow_handlers_outside_root_dir"],
            reload=values["handler_reload"],
            builtin_suites=builtins,
        )
        capacity, budget = _set_up_process(values)
        stream_options = StreamOptions(
            max_message_size=values["max_message_size"],
            allowed_origins=parse_allowed_origins(values["allowed_origins"]),
            buffer_budget=budget,
            capture=capture_flow.policy_from(values),
        )
        if values["shutdown_file"]:
            _watch_shutdown_file(values["shutdown_file"])
        _dispatchers[key] = (dispatcher, stream_options, capacity)
        _log.info(
            "serving %d handler(s) from %s: %s", len(dispatcher.resources()), root, " ".join(dispatcher.resources())
        )
        _log.info("connection I/O: %s", "native (_apacheio)" if _NativeIO else "mod_python's conn.read/req.write")
        return dispatcher, stream_options, capacity


_watched: set[str] = set()


def _watch_shutdown_file(path: str, interval: float = 0.25) -> None:
    """Close this child's WebSockets with 1001 once ``path`` exists (mod_python has no shutdown hook)."""
    if path in _watched:
        return
    _watched.add(path)

    def watch() -> None:
        while not os.path.exists(path):
            time.sleep(interval)
        _log.info("shutting down: closing %d WebSocket(s) with 1001", registry.count())
        while True:  # handshakes already under way may still register
            registry.close_all()
            time.sleep(interval)

    threading.Thread(target=watch, name="mod_pywebsocket-shutdown", daemon=True).start()


def _finish(req) -> int:
    req.assbackwards = 1
    req.connection.keepalive = apache.AP_CONN_CLOSE
    return apache.DONE


def _refuse(req, refusal: flow.Refusal) -> int:
    for name, value in refusal.headers:
        req.err_headers_out[name] = value
    return refusal.status


def headerparserhandler(req) -> int:
    """mod_python entry: serve a WebSocket upgrade, decline any other request."""
    upgrade = is_websocket_upgrade(req.headers_in)
    try:
        dispatcher, stream_options, capacity = _configure(req.get_options())
    except Exception as e:
        _log.error("configuration error: %s", e)
        return apache.HTTP_INTERNAL_SERVER_ERROR if upgrade else apache.DECLINED
    if not upgrade:
        refusal = flow.refuse_plain_request(req.unparsed_uri, dispatcher)
        return apache.DECLINED if refusal is None else _refuse(req, refusal)

    connection = ApacheConnection(req)
    try:
        return _serve(req, connection, dispatcher, stream_options, capacity)
    finally:
        connection.release()


def _serve(
    req, connection: ApacheConnection, dispatcher: Dispatcher, stream_options: StreamOptions, capacity: Capacity
) -> int:
    request = WebSocketRequest(
        method=req.method,
        unparsed_uri=req.unparsed_uri,
        protocol=req.protocol,
        headers_in=req.headers_in,
        connection=connection,
        is_https=bool(req.is_https()),
        native=req,
    )

    def accepted() -> None:
        req.status = 101  # for the access log

    outcome = flow.handle_upgrade(request, dispatcher, stream_options, on_accept=accepted, capacity=capacity)
    if outcome is flow.NOT_OURS:
        return apache.DECLINED  # Apache answers: a static file, or 404
    if isinstance(outcome, flow.Refusal):
        return _refuse(req, outcome)
    return _finish(req)
