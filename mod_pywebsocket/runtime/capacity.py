"""A process's limits under load, the answers past them (503 and close 1009), and its threads.

``Capacity``: each open WebSocket holds a worker thread for its whole life. Both
servers keep a few threads more than WebSocket slots (``SPARE_THREADS``), so that
when every slot is taken a new upgrade still gets an answer -- ``503 Service
Unavailable`` with ``Retry-After`` -- and plain HTTP (the health check, the pages)
is still served, instead of the connection waiting unanswered in the listen queue.

``BufferBudget``: the message data all of a process's connections may hold at once
(``WS_MAX_BUFFERED``). A connection reserves what a message will take before its
bytes are read (the frame header says how many are coming) and gives it back when
the handler asks for the next message; the connection whose message would pass the
budget is closed with 1009 while the others go on.

The log says when a process reaches a limit once per burst: a burst begins at the
first refusal and ends when the use falls below 90 % of the limit.
"""

from __future__ import annotations

import logging
import sys
import threading

_log = logging.getLogger("mod_pywebsocket.capacity")

#: Worker threads beyond the WebSocket slots: they answer at capacity.
SPARE_THREADS = 16

#: Seconds a client over the limit is asked to wait (``Retry-After``, RFC 9110 10.2.3).
RETRY_AFTER = 1

MiB = 1024 * 1024

#: Seconds between the GIL's forced hand-offs (Python's default is 0.005). Each thread
#: waiting for the GIL wakes up once per interval to ask for it, so with a thread per
#: connection and many connections busy at once, the default turns into a storm of
#: wake-ups: measured with 1,000 connections echoing (make bench, row s), 175,000
#: context switches/s, 1.4 cores in the kernel and 2,700 echoes/s; with 0.05, 17,000
#: echoes/s. The cost: a handler that computes without any I/O keeps others waiting up
#: to this long before they get a turn.
SWITCH_INTERVAL = 0.05


def set_switch_interval(seconds: float = SWITCH_INTERVAL) -> None:
    """Set the process's GIL switch interval (the servers do, at start; embedders' stays theirs)."""
    sys.setswitchinterval(seconds)


class _BurstLimit:
    """A use counted against a limit by many threads, logged once per burst of refusals."""

    def __init__(self, limit: int, how_to_raise: str) -> None:
        self.limit = limit
        self._how_to_raise = how_to_raise
        self._lock = threading.Lock()
        self._used = 0
        self._refused = 0  # in the current burst
        self._in_burst = False

    def _take(self, amount: int) -> bool:
        with self._lock:
            if self._used + amount <= self.limit:
                self._used += amount
                return True
            self._refused += 1
            first = not self._in_burst
            self._in_burst = True
        if first:
            self._log_reached(self._how_to_raise)
        return False

    def _give_back(self, amount: int) -> None:
        with self._lock:
            self._used -= amount
            ended = self._in_burst and self._used < self.limit * 9 // 10
            refused = self._refused
            if ended:
                self._in_burst, self._refused = False, 0
        if ended:
            self._log_available(refused)

    def _log_reached(self, how_to_raise: str) -> None:
        raise NotImplementedError

    def _log_available(self, refused: int) -> None:
        raise NotImplementedError


class Capacity(_BurstLimit):
    """At most ``limit`` WebSockets at once; ``how_to_raise`` names the setting in the log."""

    @property
    def open(self) -> int:
        return self._used

    def claim(self) -> bool:
        """Take a slot (True), or count a refusal (False)."""
        return self._take(1)

    def release(self) -> None:
        self._give_back(1)

    def _log_reached(self, how_to_raise: str) -> None:
        _log.warning(
            "capacity reached: %d WebSockets open, the limit; new upgrades get 503 with Retry-After "
            "(raise %s)", self.limit, how_to_raise,
        )  # fmt: skip

    def _log_available(self, refused: int) -> None:
        _log.warning("capacity available again: %d upgrade(s) were refused with 503 meanwhile", refused)


class BufferBudget(_BurstLimit):
    """At most ``limit`` bytes of message data held by a process's connections at once."""

    @property
    def used(self) -> int:
        return self._used

    def reserve(self, amount: int) -> bool:
        """Hold ``amount`` more bytes (True), or count a refusal (False)."""
        return self._take(amount)

    def release(self, amount: int) -> None:
        self._give_back(amount)

    def _log_reached(self, how_to_raise: str) -> None:
        _log.warning(
            "buffer budget reached: %.0f MiB of message data held at once, the limit; a connection whose "
            "message would pass it is closed with 1009 (raise %s)", self.limit / MiB, how_to_raise,
        )  # fmt: skip

    def _log_available(self, refused: int) -> None:
        _log.warning("buffer budget available again: %d connection(s) were closed with 1009 meanwhile", refused)
