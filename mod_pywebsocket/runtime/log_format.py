"""How the log lines look: text or JSON lines (``WS_LOG_FORMAT``), each with its connection.

Every WebSocket connection gets an id when its upgrade arrives (``connection_scope``);
every line logged by the thread serving it carries that id: ``[c7f3a9b2]`` after the
logger's name in text, ``"connection": "c7f3a9b2"`` in JSON. The same id names the
connection's capture file and its row on ``/connections/``.

JSON lines are one object per line, ASCII only: ``time`` (UTC, ISO 8601 with
milliseconds), ``level``, ``logger``, ``message``, ``pid``, ``connection`` (when there is
one), ``traceback`` (a logged exception, whole), and the fields a line carries in
``extra={"fields": {...}}`` (the connection line's, see ``connection_summary``).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

#: The text lines of the standalone server and the HTTP/3 listener.
TEXT_FORMAT = "[%(asctime)s] [%(levelname)s] %(name)s: %(connection_tag)s%(message)s"
#: Under Apache, whose error log adds the time, level and process itself.
APACHE_TEXT_FORMAT = "%(name)s: %(connection_tag)s%(message)s"
FORMATS = ("text", "json")

_current = threading.local()


def new_connection_id() -> str:
    """Eight hex digits, unique enough across the processes of one server's run."""
    return os.urandom(4).hex()


def current_connection() -> str:
    """The id of the connection this thread serves, or ``""``."""
    return getattr(_current, "id", "")


@contextmanager
def connection_scope(connection_id: str) -> Iterator[str]:
    """Lines logged by this thread until the end of the block carry ``connection_id``."""
    outer = current_connection()
    _current.id = connection_id
    try:
        yield connection_id
    finally:
        _current.id = outer


class ConnectionFilter(logging.Filter):
    """Gives every record ``connection`` (the thread's connection id, or one passed in
    ``extra``) and ``connection_tag`` (``"[id] "`` or ``""``, for text formats)."""

    def filter(self, record: logging.LogRecord) -> bool:
        connection = getattr(record, "connection", None) or current_connection()
        record.connection = connection
        record.connection_tag = f"[{connection}] " if connection else ""
        return True


def utc_time(seconds: float) -> str:
    """``2026-12-06T18:20:34.614Z``: the JSON lines' time (and the access lines')."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{int(seconds % 1 * 1000):03d}Z"


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (see the module)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": utc_time(record.created),
            "level": _level_name(record.levelno),
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        connection = getattr(record, "connection", None) or current_connection()
        if connection:
            entry["connection"] = connection
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            for key, value in fields.items():
                entry.setdefault(key, value)
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["traceback"] = record.exc_text
        return json.dumps(entry, ensure_ascii=True, default=str)


def _level_name(levelno: int) -> str:
    if levelno >= logging.CRITICAL:
        return "crit"
    if levelno >= logging.ERROR:
        return "error"
    if levelno >= logging.WARNING:
        return "warn"
    if levelno >= logging.INFO:
        return "info"
    return "debug"


def formatter(log_format: str, text_format: str = TEXT_FORMAT) -> logging.Formatter:
    """The formatter for ``WS_LOG_FORMAT`` (``text`` or ``json``)."""
    if log_format == "json":
        return JsonFormatter()
    return logging.Formatter(text_format)


def configure(handler: logging.Handler, log_format: str, text_format: str = TEXT_FORMAT) -> logging.Handler:
    """``handler`` with the format's formatter and the connection filter; returned."""
    handler.setFormatter(formatter(log_format, text_format))
    if not any(isinstance(f, ConnectionFilter) for f in handler.filters):
        handler.addFilter(ConnectionFilter())
    return handler
