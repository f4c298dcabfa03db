"""Raw-socket opening handshakes, for requests a well-behaved client library refuses to send."""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass

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
