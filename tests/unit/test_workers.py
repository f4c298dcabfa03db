"""The standalone server's worker pool: threads are reused, and nothing is lost at the edges."""

from __future__ import annotations

import threading
import time

import pytest

from mod_pywebsocket.adapters.standalone.workers import WorkerPool


def test_jobs_run_and_threads_are_reused():
    seen: list[str] = []
    done = threading.Semaphore(0)

    def work(n: int) -> None:
        seen.append(threading.current_thread().name + str(threading.get_ident()))
        done.release()

    pool = WorkerPool(work, idle_timeout=5)
    for n in range(20):
        pool.submit(n)
        assert done.acquire(timeout=5)
        time.sleep(0.002)  # let the thread go back to waiting
    assert len(seen) == 20
    assert len(set(seen)) <= 3  # sequential jobs share a thread or two
    assert pool.wait_idle(5)
    pool.stop_idle()


def test_concurrent_jobs_get_their_own_threads_and_wait_idle_waits():
    release = threading.Event()
    started = threading.Semaphore(0)

    def work() -> None:
        started.release()
        release.wait(10)

    pool = WorkerPool(work, idle_timeout=5)
    for _ in range(8):
        pool.submit()
    for _ in range(8):
        assert started.acquire(timeout=5)  # all eight run at once
    assert pool.busy() == 8
    assert not pool.wait_idle(0.05)
    release.set()
    assert pool.wait_idle(5)
    pool.stop_idle()


def test_idle_threads_exit_and_late_jobs_still_run():
    ran = threading.Semaphore(0)
    pool = WorkerPool(lambda: ran.release(), idle_timeout=0.01)
    for _ in range(50):  # submissions racing idle timeouts
        pool.submit()
        time.sleep(0.01)
    for _ in range(50):
        assert ran.acquire(timeout=5)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_job_that_raises_does_not_lose_later_jobs():
    ran = threading.Semaphore(0)

    def work(fail: bool) -> None:
        if fail:
            raise SystemExit  # escapes even the server's own handlers
        ran.release()

    pool = WorkerPool(work, idle_timeout=5)
    pool.submit(True)
    time.sleep(0.05)
    for _ in range(5):
        pool.submit(False)
        assert ran.acquire(timeout=5)
