"""pywebsocket3's ``server_util``: the standalone server's logging set-up and thread monitor.

``configure_logging(options)`` is the standalone server's own (``adapters.standalone.cli``:
one handler on the root logger, to ``--log-file`` rotated at ``--log-max`` or to stderr,
at ``--log-level``), plus pywebsocket3's ``FINE`` level name and its
``--deflate-log-level`` for ``util._Deflater`` and ``util._Inflater``.
``ThreadMonitor`` logs the live threads every few seconds.
"""

from __future__ import annotations

import logging
import threading
import time

from . import common, util
from .adapters.standalone.cli import _configure_logging
from .runtime.log_levels import parse_log_level

__all__ = ["ThreadMonitor", "configure_logging"]


def _get_logger_from_class(c: type) -> logging.Logger:
    """The logger ``util.get_class_logger`` gives the instances of ``c``."""
    return logging.getLogger(f"{c.__module__}.{c.__name__}")


def configure_logging(options) -> None:
    """Log as ``options`` (pywebsocket3's or the standalone server's flags) say."""
    logging.addLevelName(common.LOGLEVEL_FINE, "FINE")
    _configure_logging(options)
    deflate_level = getattr(options, "deflate_log_level", None)
    if deflate_level:
        for codec in (util._Deflater, util._Inflater):
            _get_logger_from_class(codec).setLevel(parse_log_level(deflate_level))


class ThreadMonitor(threading.Thread):
    """A daemon thread that logs (INFO) how many threads run, and their names, every
    ``interval_in_sec`` seconds, for as long as the process runs."""

    def __init__(self, interval_in_sec: float) -> None:
        super().__init__(name="ThreadMonitor", daemon=True)
        self._logger = util.get_class_logger(self)
        self._interval_in_sec = interval_in_sec

    def run(self) -> None:
        while True:
            names = ", ".join(thread.name for thread in threading.enumerate())
            self._logger.info("%d active threads: %s", threading.active_count(), names)
            time.sleep(self._interval_in_sec)
