"""A fake connection for unit tests of the stream: scripted reads, recorded writes."""

from __future__ import annotations

import socket

from mod_pywebsocket import common
from mod_pywebsocket.core.frames import FrameParser, build_frame
from mod_pywebsocket.runtime.request import WebSocketRequest


class FakeConnection:
    def __init__(self, incoming: bytes = b"", chunk: int = 1 << 20) -> None:
        self.incoming = bytearray(incoming)
        self.chunk = chunk
        self.written = bytearray()
        self.remote_addr = ("127.0.0.1", 50000)
        self.local_addr = ("127.0.0.1", 80)
        self.timeouts = 0

    def read(self, n: int) -> bytes:
        if self.timeouts:
            self.timeouts -= 1
            raise TimeoutError("fake timeout")
        n = min(n, self.chunk)
        data = bytes(self.incoming[:n])
        del self.incoming[:n]
        return data

    def write(self, data: bytes) -> None:
        self.written += data

    def frames(self):
        """The frames the server wrote, parsed."""
        parser = FrameParser(require_mask=False)
        parser.allow_rsv1 = True
        parser.feed(bytes(self.written))
        out = []
        while (frame := parser.next_frame()) is not None:
            out.append(frame)
        return out


class SocketConnection:
    """A real socket as ``request.connection``: reads return what has arrived (as our own
    servers' connections do), with timed reads for the client-conformance judge."""

    read_returns_available = True

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def read(self, n: int) -> bytes:
        return self.sock.recv(n)

    def write(self, data: bytes) -> None:
        self.sock.sendall(data)

    def set_read_timeout(self, seconds: float) -> None:
        self.sock.settimeout(seconds)


def client_frame(opcode: int, payload: bytes = b"", fin: bool = True, rsv1: bool = False) -> bytes:
    return build_frame(opcode, payload, fin=fin, rsv1=rsv1, mask=True)


def close_frame(code: int | None = 1000, reason: str = "") -> bytes:
    body = b"" if code is None else code.to_bytes(2, "big") + reason.encode()
    return client_frame(common.OPCODE_CLOSE, body)


def make_request(incoming: bytes = b"", headers=None, uri: str = "/echo", chunk: int = 1 << 20) -> WebSocketRequest:
    return WebSocketRequest(
        method="GET",
        unparsed_uri=uri,
        protocol="HTTP/1.1",
        headers_in=headers or {},
        connection=FakeConnection(incoming, chunk),
        is_https=False,
    )
