"""The processes behind a browser: a free port, a process group stopped whole, an Xvfb display."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import subprocess
import time
from pathlib import Path

# Seconds: no wait here is unbounded.
START_TIMEOUT = 60.0  # a driver up, a session made
STOP_TIMEOUT = 10.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_group(process: subprocess.Popen, timeout: float = STOP_TIMEOUT) -> None:
    """SIGTERM the process group that ``process`` leads (it was started in a session of its
    own, so the group holds it and the browser it started), then SIGKILL what is left."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            continue
        # The leader is gone; give the rest of its group the same signal's chance, then the next.
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and group_alive(process.pid):
            time.sleep(0.1)
        if not group_alive(process.pid):
            return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A group of zombies only (our own child reaped, grandchildren re-parented to init) still
    # answers signal 0: look for a live member.
    for status in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = status.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


class Xvfb:
    """An X server on a display it picks itself (``-displayfd``), for MiniBrowser."""

    def __init__(self, log: Path) -> None:
        read_end, write_end = os.pipe()
        try:
            with open(log, "wb") as out:
                self.process = subprocess.Popen(
                    ["Xvfb", "-displayfd", str(write_end), "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
                    stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                    pass_fds=(write_end,), start_new_session=True,
                )  # fmt: skip
            os.close(write_end)
            write_end = -1
            number = b""
            deadline = time.monotonic() + START_TIMEOUT
            while not number.endswith(b"\n"):
                left = deadline - time.monotonic()
                ready, _, _ = select.select([read_end], [], [], max(left, 0))
                chunk = os.read(read_end, 16) if ready else b""
                if not chunk:
                    self.stop()
                    raise RuntimeError(f"Xvfb gave no display number:\n{log.read_text(errors='replace')[-2000:]}")
                number += chunk
            self.display = f":{int(number)}"
        finally:
            os.close(read_end)
            if write_end >= 0:
                os.close(write_end)

    def stop(self) -> None:
        stop_group(self.process)


def tail_of(log: Path, size: int = 4000) -> str:
    """The last ``size`` characters of a log file ("" if it cannot be read)."""
    try:
        return log.read_text(errors="replace")[-size:]
    except OSError:
        return ""
