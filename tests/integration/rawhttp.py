"""Raw-socket opening handshakes, for requests a well-behaved client library refuses to send."""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass

from mod_pywebsocket.core.frames import FrameParser, build_frame

GOOD_HEADERS = {
    "Host": "127.0.0.1",
    "Upgrade": "websocket",
    "Connection": "Upgrade",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Version": "13",
}


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    raw: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


def new_key() -> str:
    return base64.b64encode(os.urandom(16)).decode()


def build_request(path: str = "/echo", method: str = "GET", version: str = "HTTP/1.1", **changes) -> bytes:
    """A handshake request; ``changes`` replace headers (``None`` drops one; ``_`` stands for ``-``)."""
    headers = dict(GOOD_HEADERS)
    for name, value in changes.items():
        name = name.replace("_", "-")
        if value is None:
            headers.pop(name, None)
        else:
            headers[name] = value
    lines = [f"{method} {path} {version}"] + [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def send_raw(sock, request: bytes) -> Response:
    """Send ``request`` and read the response head (and what arrives with it)."""
    sock.sendall(request)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    lines = head.split("\r\n")
    if not lines[0].startswith("HTTP/"):
        return Response(0, {}, data)
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Response(status, headers, data)


class RawWebSocket:
    """A WebSocket client over a raw socket: exactly the frames a test asks for, nothing more.

    Frames go out through the package's own ``build_frame`` and come in through its
    ``FrameParser``, which also checks that what the server sends is well formed.
    """

    def __init__(self, sock) -> None:
        self.sock = sock
        self.parser = FrameParser(require_mask=False)

    def handshake(self, path: str, **changes) -> Response:
        response = send_raw(self.sock, build_request(path, **changes))
        if b"\r\n\r\n" in response.raw:
            self.parser.feed(response.raw.split(b"\r\n\r\n", 1)[1])
        return response

    def send_frame(self, opcode: int, payload: bytes = b"", fin: bool = True) -> None:
        self.sock.sendall(build_frame(opcode, payload, fin=fin, mask=True))

    def read_frame(self) -> tuple[int, bytes] | None:
        """(opcode, payload) of the next frame from the server; None when the connection ends first."""
        while (frame := self.parser.next_frame()) is None:
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.parser.feed(chunk)
        return frame.opcode, frame.payload

    def read_until_eof(self) -> bytes:
        """Everything the server still sends, until it closes the connection."""
        data = self.parser.take_raw(self.parser.buffered())
        while chunk := self.sock.recv(65536):
            data += chunk
        return data
