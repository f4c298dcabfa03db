"""Files other processes read while they are replaced: written aside, then renamed.

The capture folder, the client-conformance reports and the readiness file are read by
other processes (Apache's workers, a browser through the server) while they change: a
reader sees the old file or the new one, never half of one.
"""

from __future__ import annotations

import os
import threading


def replace_file(path: str, data: str | bytes, mode: int | None = None) -> None:
    """Write ``data`` to ``path`` at once: to a hidden file beside it first (one per process
    and thread), then renamed over it; ``mode``, when given, before the rename."""
    folder, name = os.path.split(path)
    temporary = os.path.join(folder, f".{name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        if isinstance(data, str):
            with open(temporary, "w", encoding="utf-8") as f:
                f.write(data)
        else:
            with open(temporary, "wb") as f:
                f.write(data)
        if mode is not None:
            os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
