"""How many WebSockets a process serves at once, and the answer past that: 503.

Each open WebSocket holds a worker thread for its whole life. Both servers keep a
few threads more than WebSocket slots (``SPARE_THREADS``), so that when every slot
is taken a new upgrade still gets an answer -- ``503 Service Unavailable`` with
``Retry-After`` -- and plain HTTP (the health check, the pages) is still served,
instead of the connection waiting unanswered in the listen queue.

The log says when a process reaches its limit once per burst: a burst begins at
the first refusal and ends when the open WebSockets fall below 90 % of the limit.
"""

from __future__ import annotations

import logging
import threading

_log = logging.getLogger("mod_pywebsocket.capacity")

#: Worker threads beyond the WebSocket slots: they answer at capacity.
SPARE_THREADS = 16

#: Seconds a client over the limit is asked to wait (``Retry-After``, RFC 9110 10.2.3).
RETRY_AFTER = 1


class Capacity:
    """At most ``limit`` WebSockets at once; ``how_to_raise`` names the setting in the log."""

    def __init__(self, limit: int, how_to_raise: str) -> None:
        self.limit = limit
        self._how_to_raise = how_to_raise
        self._lock = threading.Lock()
        self._open = 0
        self._refused = 0  # in the current burst
        self._in_burst = False

    @property
    def open(self) -> int:
        return self._open

    def claim(self) -> bool:
        """Take a slot (True), or count a refusal (False)."""
        with self._lock:
            if self._open < self.limit:
                self._open += 1
                return True
            self._refused += 1
            first = not self._in_burst
            self._in_burst = True
        if first:
            _log.warning(
                "capacity reached: %d WebSockets open, the limit; new upgrades get 503 with Retry-After "
                "(raise %s)", self.limit, self._how_to_raise,
            )  # fmt: skip
        return False

    def release(self) -> None:
        with self._lock:
            self._open -= 1
            ended = self._in_burst and self._open < self.limit * 9 // 10
            refused = self._refused
            if ended:
                self._in_burst, self._refused = False, 0
        if ended:
            _log.warning("capacity available again: %d upgrade(s) were refused with 503 meanwhile", refused)
