"""A pool of threads for the standalone server: one connection per thread at a time.

Starting a thread costs about as much as a whole WebSocket handshake, so
threads that finish a connection wait a while for the next one instead of
exiting. The server bounds the number of connections (and so of busy
threads) itself.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable


class WorkerPool:
    def __init__(self, work: Callable[..., None], idle_timeout: float = 30.0, name: str = "mod_pywebsocket") -> None:
        self._work = work
        self._idle_timeout = idle_timeout
        self._name = name
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._done = threading.Condition(self._lock)
        self._idle = 0  # threads waiting on the queue, not yet promised a job
        self._busy = 0

    def submit(self, *args) -> None:
        """Run ``work(*args)`` on an idle thread, or on a new one."""
        with self._lock:
            self._busy += 1
            if self._idle:
                self._idle -= 1
                self._queue.put(args)  # under the lock: see _next_job
                return
        threading.Thread(target=self._run, args=(args,), name=self._name, daemon=True).start()

    def _run(self, args: tuple | None) -> None:
        while args is not None:
            idle = False
            try:
                self._work(*args)
                idle = True
            finally:
                with self._lock:
                    self._busy -= 1
                    self._idle += idle  # a thread dying of an exception takes no more jobs
                    self._done.notify_all()
            args = self._next_job()

    def _next_job(self) -> tuple | None:
        try:
            return self._queue.get(timeout=self._idle_timeout)
        except queue.Empty:
            with self._lock:
                # A job put after the timeout was promised to this thread: take it.
                try:
                    return self._queue.get_nowait()
                except queue.Empty:
                    self._idle -= 1
                    return None

    def busy(self) -> int:
        return self._busy

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no job runs (or ``timeout`` passes); True if none does."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._done.wait(left)
            return True

    def stop_idle(self) -> None:
        """Let the waiting threads exit now."""
        with self._lock:
            for _ in range(self._idle):
                self._queue.put(None)
            self._idle = 0
