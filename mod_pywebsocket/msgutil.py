"""Message helpers for handlers, by the names pywebsocket handlers call.

``send_message(request, msg)`` and friends are thin wrappers over
``request.ws_stream``; ``MessageReceiver`` and ``MessageSender`` run the
receiving or sending side on their own thread.
"""

from __future__ import annotations

import queue
import threading

from .core.errors import (
    BadOperationException,
    ConnectionTerminatedException,
    InvalidFrameException,
    UnsupportedFrameException,
)

__all__ = [
    "BadOperationException",
    "ConnectionTerminatedException",
    "InvalidFrameException",
    "MessageReceiver",
    "MessageSender",
    "UnsupportedFrameException",
    "close_connection",
    "receive_message",
    "send_message",
    "send_ping",
]


def close_connection(request) -> None:
    request.ws_stream.close_connection()


def send_message(request, payload_data, end: bool = True, binary: bool = False) -> None:
    request.ws_stream.send_message(payload_data, end, binary)


def receive_message(request):
    return request.ws_stream.receive_message()


def send_ping(request, body: str | bytes = b"") -> None:
    request.ws_stream.send_ping(body)


class MessageReceiver(threading.Thread):
    """Receive messages on a daemon thread.

    With ``onmessage`` each message is passed to it; otherwise messages queue up
    for ``receive()`` (blocking) or ``receive_nowait()`` (None when empty).
    """

    def __init__(self, request, onmessage=None) -> None:
        super().__init__(daemon=True)
        self._request = request
        self._queue: queue.Queue = queue.Queue()
        self._onmessage = onmessage
        self._stop_requested = False
        self.start()

    def run(self) -> None:
        try:
            while not self._stop_requested:
                message = receive_message(self._request)
                if self._onmessage:
                    self._onmessage(message)
                else:
                    self._queue.put(message)
                if message is None:
                    break
        except ConnectionTerminatedException:
            self._queue.put(None)
        finally:
            close_connection(self._request)

    def receive(self):
        return self._queue.get()

    def receive_nowait(self):
        try:
            return self._queue.get_nowait()
        except queue.Empty:
            return None

    def stop(self) -> None:
        self._stop_requested = True


class MessageSender(threading.Thread):
    """Send messages on a daemon thread: ``send()`` waits until sent, ``send_nowait()`` does not."""

    def __init__(self, request) -> None:
        super().__init__(daemon=True)
        self._request = request
        self._queue: queue.Queue = queue.Queue()
        self.start()

    def run(self) -> None:
        while True:
            message, condition = self._queue.get()
            with condition:
                send_message(self._request, message)
                condition.notify()

    def send(self, message) -> None:
        condition = threading.Condition()
        with condition:
            self._queue.put((message, condition))
            condition.wait()

    def send_nowait(self, message) -> None:
        self._queue.put((message, threading.Condition()))
