"""The optional C accelerators, found once for everything that can use them.

``_speedups`` (masking, the standalone server's quick send) and ``_apacheio`` (Apache's
connection I/O) are built when a compiler is there (the image always builds both).
Each user falls back to pure Python, or to mod_python's calls, when ``load`` gives
None: the module was not built, or ``MOD_PYWEBSOCKET_NO_SPEEDUPS`` is set.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

_PACKAGE = __name__.rpartition(".")[0].rpartition(".")[0]  # mod_pywebsocket


def load(module: str, name: str) -> Any | None:
    """``mod_pywebsocket.<module>.<name>``, or None (not built, or switched off)."""
    if os.environ.get("MOD_PYWEBSOCKET_NO_SPEEDUPS"):
        return None
    try:
        return getattr(importlib.import_module(f"{_PACKAGE}.{module}"), name)
    except (ImportError, AttributeError):
        return None
