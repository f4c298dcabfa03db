"""The open WebSocket sessions of this process, so a stopping server can close them.

Both adapters register each request for the life of its session; on shutdown
``close_all()`` sends every peer a close frame (1001 "going away" by default),
which lets well-behaved clients finish the closing handshake instead of seeing
the TCP connection die (1006).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from ..core import constants
from ..core.errors import BadOperationException, ConnectionTerminatedException
from .blocking_stream import runtime_stream
from .interfaces import Request

_log = logging.getLogger("mod_pywebsocket.sessions")
_active: set[Request] = set()
_lock = threading.Lock()


@contextmanager
def registered(request: Request) -> Iterator[None]:
    with _lock:
        _active.add(request)
    try:
        yield
    finally:
        with _lock:
            _active.discard(request)


def count() -> int:
    with _lock:
        return len(_active)


def close_all(code: int = constants.STATUS_GOING_AWAY, reason: str = "server shutting down") -> int:
    """Send a close to every open session; return how many were sent."""
    with _lock:
        requests = list(_active)
    for request in requests:  # first every sender stops, then each close waits for one frame at most
        stoppable = runtime_stream(request)
        if stoppable is not None:
            stoppable.stop_sending(code, reason)
    sent = 0
    for request in requests:
        stream = request.ws_stream
        if stream is None or request.server_terminated:
            continue
        try:
            stream.close_connection(code, reason, wait_response=False)
            sent += 1
        except (ConnectionTerminatedException, BadOperationException) as e:
            _log.debug("could not close %s: %s", request, e)
    return sent
