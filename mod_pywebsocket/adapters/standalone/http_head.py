"""Just enough HTTP/1.1 for the standalone server: read a request head, write a response.

Repeated header lines are merged with ", " as Apache merges them, so both
servers hand the handshake the same values (a duplicated Sec-WebSocket-Key
becomes one invalid value and is answered 400 in both).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.utils import formatdate

from ...core.handshake import SERVER_TOKEN

MAX_LINE = 8190
MAX_HEADERS = 100
MAX_HEAD = 65536

_REQUEST_LINE = re.compile(r"([!#$%&'*+\-.^_`|~0-9A-Za-z]+) (\S+) (HTTP/\d\.\d)")
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BAD_VALUE_CHARS = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")

REASONS = {
    101: "Switching Protocols",
    200: "OK",
    304: "Not Modified",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    414: "URI Too Long",
    426: "Upgrade Required",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class HttpError(Exception):
    """A request we answer with ``status`` and close."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Headers:
    """Case-insensitive request headers; repeated fields are merged with ", "."""

    def __init__(self, fields: list[tuple[str, str]] | None = None) -> None:
        self._fields: list[tuple[str, str]] = []
        self._merged: dict[str, str] = {}
        for name, value in fields or ():
            self.add(name, value)

    def add(self, name: str, value: str) -> None:
        self._fields.append((name, value))
        key = name.lower()
        self._merged[key] = f"{self._merged[key]}, {value}" if key in self._merged else value

    def get(self, name: str, default: str | None = None) -> str | None:
        return self._merged.get(name.lower(), default)

    def get_all(self, name: str) -> list[str]:
        key = name.lower()
        return [value for n, value in self._fields if n.lower() == key]

    def __getitem__(self, name: str) -> str:
        return self._merged[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._merged

    def __iter__(self) -> Iterator[str]:
        return iter(name for name, _ in self._fields)

    def keys(self) -> list[str]:
        return [name for name, _ in self._fields]

    def items(self) -> list[tuple[str, str]]:
        return list(self._fields)

    def __len__(self) -> int:
        return len(self._fields)

    def __repr__(self) -> str:
        return f"Headers({self._fields!r})"


@dataclass
class RequestHead:
    method: str
    target: str
    version: str
    headers: Headers
    #: The head's lines as they came, CRLF included, and the blank line that ends it
    #: (pywebsocket3's ``connection.get_memorized_lines()``).
    lines: list[bytes] = field(default_factory=list)


def read_request_head(recv: Callable[[int], bytes]) -> tuple[RequestHead, bytes]:
    """Read one request head with ``recv``; return it and any bytes that followed it.

    Raises HttpError for requests that break the limits or the grammar, and
    ConnectionError if the peer closes first.
    """
    data = b""
    while True:
        end = data.find(b"\r\n\r\n")
        if end >= 0:
            break
        if len(data) > MAX_HEAD:
            raise HttpError(431, "request head too large")
        first_line_end = data.find(b"\r\n")
        if (first_line_end < 0 and len(data) > MAX_LINE) or first_line_end > MAX_LINE:
            raise HttpError(414, "request line too long")
        chunk = recv(16384)
        if not chunk:
            if data.strip():
                raise HttpError(400, "connection closed in the middle of the request head")
            raise ConnectionError("connection closed before a request")
        data += chunk
    head = parse_request_head(data[:end])
    head.lines = [line + b"\r\n" for line in data[:end].split(b"\r\n")] + [b"\r\n"]
    return head, data[end + 4 :]


def parse_request_head(head: bytes) -> RequestHead:
    lines = head.decode("latin-1").split("\r\n")
    request_line = lines[0]
    if len(request_line) > MAX_LINE:
        raise HttpError(414, "request line too long")
    match = _REQUEST_LINE.fullmatch(request_line)
    if not match:
        raise HttpError(400, f"malformed request line {request_line[:100]!r}")
    method, target, version = match.groups()
    if len(lines) - 1 > MAX_HEADERS:
        raise HttpError(431, f"more than {MAX_HEADERS} header fields")
    headers = Headers()
    for line in lines[1:]:
        if len(line) > MAX_LINE:
            raise HttpError(431, "header line too long")
        if line[:1] in (" ", "\t"):
            raise HttpError(400, "obsolete header line folding")
        name, colon, value = line.partition(":")
        if not colon or not _HEADER_NAME.fullmatch(name):
            raise HttpError(400, f"malformed header line {line[:100]!r}")
        value = value.strip(" \t")
        if _BAD_VALUE_CHARS.search(value):
            raise HttpError(400, f"control character in header {name}")
        headers.add(name, value)
    return RequestHead(method, target, version, headers)


def format_response(
    status: int, headers: list[tuple[str, str]] | None = None, body: bytes = b"", *, head_only: bool = False
) -> bytes:
    """A complete response that ends the connection (this server does no keep-alive)."""
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Unknown')}", f"Server: {SERVER_TOKEN}"]
    lines.append(f"Date: {formatdate(usegmt=True)}")
    for name, value in headers or ():
        lines.append(f"{name}: {value}")
    lines.append(f"Content-Length: {len(body)}")
    lines.append("Connection: close")
    out = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return out if head_only else out + body


def error_answer(
    status: int, message: str = "", headers: list[tuple[str, str]] | None = None
) -> tuple[int, list[tuple[str, str]], bytes]:
    """``(status, headers, body)`` of an error: the status line's words and ``message`` as
    plain text (every listener's, whatever its framing: HTTP/1.1 here, HTTP/3 in adapters.h3)."""
    body = f"{status} {REASONS.get(status, 'Error')}\n{message}\n".encode("utf-8", "replace")
    return status, [("Content-Type", "text/plain; charset=utf-8"), *(headers or [])], body


def error_response(status: int, message: str = "", headers: list[tuple[str, str]] | None = None) -> bytes:
    return format_response(*error_answer(status, message, headers))
