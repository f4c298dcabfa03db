"""Log-level names shared by the Apache option, the env var and the standalone flag."""

from __future__ import annotations

import logging

from ..core import constants

_LEVELS = {
    "fine": constants.LOGLEVEL_FINE,
    "trace": constants.LOGLEVEL_FINE,
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "notice": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "crit": logging.CRITICAL,
    "critical": logging.CRITICAL,
    "alert": logging.CRITICAL,
    "emerg": logging.CRITICAL,
}


def parse_log_level(name: str) -> int:
    """``warn`` -> logging.WARNING, also Apache's names (``notice``, ``crit``, ``trace1``...)."""
    key = name.strip().lower()
    if key.startswith("trace"):
        key = "trace"
    try:
        return _LEVELS[key]
    except KeyError:
        raise ValueError(f"unknown log level {name!r}; use one of {', '.join(_LEVELS)}") from None
