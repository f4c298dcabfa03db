"""The WebSocket limit per process: slots, refusals, one log line per burst."""

from __future__ import annotations

import logging
import threading

from mod_pywebsocket.runtime import flow
from mod_pywebsocket.runtime.capacity import Capacity


def test_slots_are_claimed_up_to_the_limit_and_freed(caplog):
    capacity = Capacity(3, "WS_THREADS")
    assert [capacity.claim() for _ in range(4)] == [True, True, True, False]
    capacity.release()
    assert capacity.claim() is True
    assert capacity.open == 3


def test_one_warning_per_burst(caplog):
    capacity = Capacity(10, "WS_THREADS")
    with caplog.at_level(logging.WARNING, "mod_pywebsocket.capacity"):
        for _ in range(10):
            capacity.claim()
        assert not any(capacity.claim() for _ in range(50))
        for _ in range(2):  # 8 open: below 90 %, the burst is over
            capacity.release()
        capacity.claim(), capacity.claim()
        assert capacity.claim() is False
    messages = [r.getMessage() for r in caplog.records]
    assert [m.split(":")[0] for m in messages] == ["capacity reached", "capacity available again", "capacity reached"]
    assert "raise WS_THREADS" in messages[0] and "50 upgrade(s)" in messages[1]


def test_racing_claims_never_exceed_the_limit():
    capacity = Capacity(5, "--max-connections")
    granted, lock, start = [], threading.Lock(), threading.Barrier(16)

    def claim():
        start.wait()
        for _ in range(200):
            if capacity.claim():
                with lock:
                    granted.append(capacity.open)
                capacity.release()

    threads = [threading.Thread(target=claim) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert granted and max(granted) <= 5 and capacity.open == 0


def test_the_refusal_asks_to_retry():
    assert flow.AT_CAPACITY.status == 503
    assert ("Retry-After", "1") in flow.AT_CAPACITY.headers
