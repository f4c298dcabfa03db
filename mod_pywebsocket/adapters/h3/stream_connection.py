"""``request.connection`` for a WebSocket on one HTTP/3 request stream.

The QUIC event loop and the handler's thread meet here. The loop ``feed()``s the
stream's DATA as it arrives, ``end()``s it at the peer's FIN and ``abort()``s it on
a stream reset or a lost connection; the handler's thread ``read()``s with socket
semantics (up to ``n`` bytes, what has arrived; ``b""`` at the FIN; ``TimeoutError``
after the read timeout; ``ConnectionResetError`` once aborted, which the stream
reports to the handler as an abnormal close, 1006). ``write()`` hands bytes to the
loop through the ``Transport`` and returns once the stream's unacknowledged data is
below ``HIGH_WATER``: a handler that sends 64 MiB holds at most that much in QUIC's
buffers, as a TCP socket's send buffer would. The other way, ``unread`` is what the
listener's flow control bounds: a client gets credit for ``RECEIVE_WINDOW`` bytes past
what the handler has read (``server._H3Protocol``), as a TCP receive window.
"""

from __future__ import annotations

import collections
import threading
import time
from typing import Protocol

#: Unacknowledged bytes a stream may hold before ``write()`` waits for the peer.
HIGH_WATER = 1 << 20
#: Bytes handed to the loop at a time (a write of more waits between pieces).
WRITE_PIECE = 256 * 1024
#: What a client may send beyond what the handler has read (the stream's flow-control
#: credit, as a TCP receive window): a handler that stops reading holds at most this.
RECEIVE_WINDOW = 4 << 20
#: Unread bytes below which the credit the handler freed is announced at once.
CREDIT_AGAIN = RECEIVE_WINDOW // 2


class Transport(Protocol):
    """What the connection needs from the loop side (``server._Exchange``)."""

    def send(self, data: bytes, end_stream: bool) -> int:
        """Queue ``data`` on the stream (from any thread); the stream's unacknowledged bytes after it."""
        ...

    def unacknowledged(self) -> int:
        """The stream's bytes not yet acknowledged by the peer (from any thread)."""
        ...

    def credit_freed(self) -> None:
        """The handler has read enough that the peer may send more: tell it (from any thread)."""
        ...

    def send_headers(self, headers: list[tuple[bytes, bytes]], end_stream: bool) -> None: ...


class StreamConnection:
    read_returns_available = True  # read(n) returns what has arrived, as a socket does

    def __init__(self, transport: Transport, remote_addr: tuple[str, int], local_addr: tuple[str, int]) -> None:
        self._transport = transport
        self.remote_addr = remote_addr
        self.local_addr = local_addr
        self._arrived: collections.deque[bytes] = collections.deque()
        self._ready = threading.Condition()
        self._ended = False
        self._aborted: str | None = None
        self._read_timeout: float | None = None
        self._write_timeout: float | None = None
        self.received = 0  # payload bytes, both ways (for the access log)
        self.sent = 0
        self.unread = 0  # bytes arrived and not read yet: what the stream's flow control bounds

    # -- the loop's side ------------------------------------------------------

    def feed(self, data: bytes, ended: bool) -> None:
        with self._ready:
            if data:
                self._arrived.append(data)
                self.received += len(data)
                self.unread += len(data)
            self._ended = self._ended or ended
            self._ready.notify_all()

    def abort(self, why: str) -> None:
        with self._ready:
            if self._aborted is None:
                self._aborted = why
            self._ready.notify_all()

    @property
    def aborted(self) -> bool:
        return self._aborted is not None

    # -- the handler's side ---------------------------------------------------

    def get_remote_addr(self) -> tuple[str, int]:
        return self.remote_addr

    def get_local_addr(self) -> tuple[str, int]:
        return self.local_addr

    def set_timeout(self, seconds: float | None) -> None:
        """The idle timeout of reads and of writes the peer does not take (None: wait)."""
        self._read_timeout = self._write_timeout = seconds

    def set_read_timeout(self, seconds: float | None) -> None:
        self._read_timeout = seconds

    def read(self, n: int) -> bytes:
        with self._ready:
            if not self._ready.wait_for(self._readable, self._read_timeout):
                raise TimeoutError("no data within the timeout")
            if self._arrived:
                data = self._arrived.popleft()
                if len(data) > n:
                    self._arrived.appendleft(data[n:])
                    data = data[:n]
                before, self.unread = self.unread, self.unread - len(data)
                if before >= CREDIT_AGAIN > self.unread:
                    self._transport.credit_freed()  # the peer may be waiting for this credit
                return data
            if self._aborted is not None:
                raise ConnectionResetError(self._aborted)
            return b""  # the peer's FIN

    def _readable(self) -> bool:
        return bool(self._arrived) or self._ended or self._aborted is not None

    def write(self, data: bytes | bytearray | memoryview | str) -> None:
        if isinstance(data, str):
            data = data.encode("latin-1")
        view = memoryview(data)
        for start in range(0, len(view), WRITE_PIECE):
            self._check_open()
            pending = self._transport.send(bytes(view[start : start + WRITE_PIECE]), False)
            self.sent += min(WRITE_PIECE, len(view) - start)
            if pending > HIGH_WATER:
                self._wait_for_peer()

    def _wait_for_peer(self) -> None:
        """Until the peer has acknowledged all but ``HIGH_WATER`` bytes (TimeoutError after
        the write timeout, as a TCP socket's send timeout)."""
        deadline = None if self._write_timeout is None else time.monotonic() + self._write_timeout
        pause = 0.0005
        while self._transport.unacknowledged() > HIGH_WATER:
            self._check_open()
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError("the peer has not read for the whole timeout")
            with self._ready:
                self._ready.wait_for(lambda: self._aborted is not None, pause)
            pause = min(pause * 2, 0.02)

    def _check_open(self) -> None:
        if self._aborted is not None:
            raise ConnectionResetError(self._aborted)

    def send_headers(self, headers: list[tuple[bytes, bytes]], end_stream: bool = False) -> None:
        """The response's HEADERS frame (the handshake's ``:status 200``, or a refusal)."""
        self._check_open()
        self._transport.send_headers(headers, end_stream)

    def end(self) -> None:
        """Our FIN: the close handshake is done (or the refusal's body is sent)."""
        if self._aborted is None:
            self._transport.send(b"", True)
