"""A client under test that ends abruptly: it echoes, then closes, resets or half-closes TCP
the moment it has a reason to stop, with no regard for what the server is still writing.

It is the raw-socket double of a third-party Autobahn client harness that echoes every
message and then drops TCP right after the frame it must fail on: our writes and its
FIN or RST cross, and the judge must still see its echo. Deliberately small: it knows
just enough of RFC 6455 to be a correct client for sections 1-5 and 7 (no extensions).

``end`` says how it goes: ``close`` (close(2): a FIN, or an RST if the server's later
octets arrive unread), ``reset`` (SO_LINGER 0: an RST at once, unsent data discarded),
``half-close`` (shutdown(SHUT_WR): a FIN, and it keeps reading until the server ends).
"""

from __future__ import annotations

import base64
import os
import socket
import ssl as ssl_module
import struct
import time
from urllib.parse import urlsplit

ENDS = ("close", "reset", "half-close")
# Cases where a valid message (or a ping, or a close) and a frame the client must fail on
# arrive close together, so that a client that echoes and then drops TCP at once races
# our next write; and what the careful abrupt client earns on each.
RACED = dict.fromkeys(["3.2", "3.3", "3.4", "4.1.3", "4.1.5", "4.2.5", "5.9", "5.15", "5.18", "7.1.1", "7.1.5",
                       "7.3.1", "7.5.1", "7.9.1"], ("OK", "OK"))  # fmt: skip
RACED["7.1.6"] = ("INFORMATIONAL", "INFORMATIONAL")
_CONTROL = {8, 9, 10}
_DATA = {0, 1, 2}


def _handshake(sock: socket.socket, host: str, path: str) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError(f"no handshake response: {data!r}")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 101"):
        raise ConnectionError(head.decode("latin-1"))
    return rest


def _frame(opcode: int, payload: bytes) -> bytes:
    mask = os.urandom(4)
    n = len(payload)
    head = bytes([0x80 | opcode])
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack("!H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", n)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


class _Stop(Exception):
    """A frame the client must fail the connection on: ``code`` is its close code."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class _Frames:
    """Frames out of a byte buffer; raises ``_Stop`` on what a client must fail on."""

    def __init__(self, data: bytes) -> None:
        self.buffer = bytearray(data)

    def next(self) -> tuple[bool, int, bytes] | None:
        b = self.buffer
        if len(b) < 2:
            return None
        fin, rsv, opcode, masked, n = b[0] >> 7, b[0] & 0x70, b[0] & 0x0F, b[1] >> 7, b[1] & 0x7F
        if rsv or masked or opcode not in _CONTROL | _DATA:
            raise _Stop(1002)
        at = 2
        if n == 126:
            if len(b) < 4:
                return None
            n, at = struct.unpack("!H", b[2:4])[0], 4
        elif n == 127:
            if len(b) < 10:
                return None
            n, at = struct.unpack("!Q", b[2:10])[0], 10
        if opcode in _CONTROL and (not fin or n > 125):
            raise _Stop(1002)
        if len(b) < at + n:
            return None
        payload = bytes(b[at : at + n])
        del b[: at + n]
        return bool(fin), opcode, payload


def run_case(url: str, end: str, *, ssl: ssl_module.SSLContext | None = None, timeout: float = 10.0) -> None:
    """Connect to ``url`` (a runCase URL), echo, and end the way ``end`` says."""
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    sock = socket.create_connection((parts.hostname, parts.port), timeout=timeout)
    if parts.scheme == "wss":
        sock = (ssl or ssl_module.create_default_context()).wrap_socket(sock, server_hostname=parts.hostname)
    try:
        frames = _Frames(_handshake(sock, parts.netloc, path))
    except BaseException:
        sock.close()
        raise  # the case never ran: the caller must hear of it
    try:
        close_body = _echo_until_a_reason_to_stop(sock, frames, time.monotonic() + timeout)
        if close_body is not None:
            sock.sendall(_frame(8, close_body))
        _end(sock, end, time.monotonic() + timeout)
    except OSError:
        pass
    finally:
        sock.close()


def _close_reply(payload: bytes) -> bytes:
    """The body of the reply to the server's close: its code echoed, or a failure's code."""
    if not payload:
        return b""
    code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 0
    if not (1000 <= code <= 1003 or 1007 <= code <= 1011 or 3000 <= code <= 4999):
        return struct.pack("!H", 1002)
    try:
        payload[2:].decode("utf-8")
    except UnicodeDecodeError:
        return struct.pack("!H", 1007)
    return payload[:2]


def _echo_until_a_reason_to_stop(sock: socket.socket, frames: _Frames, deadline: float) -> bytes | None:
    """Echo until the server closes or a frame must fail the connection: the close to send."""
    message: list[bytes] = []
    opcode_of_message = 0
    while time.monotonic() < deadline:
        try:
            frame = frames.next()
        except _Stop as stop:
            return struct.pack("!H", stop.code)
        if frame is None:
            data = sock.recv(65536)
            if not data:
                return None
            frames.buffer += data
            continue
        fin, opcode, payload = frame
        if opcode == 8:  # the server's close: the reply, then go
            return _close_reply(payload)
        if opcode == 9:
            sock.sendall(_frame(10, payload))
            continue
        if opcode == 10:
            continue
        if (opcode == 0) != bool(message):  # a continuation with no message, or a new one inside one
            return struct.pack("!H", 1002)
        if opcode:
            opcode_of_message = opcode
        message.append(payload)
        if fin:
            data = b"".join(message)
            message = []
            if opcode_of_message == 1:
                try:
                    data.decode("utf-8")
                except UnicodeDecodeError:
                    return struct.pack("!H", 1007)
            sock.sendall(_frame(opcode_of_message, data))
    return None


def _end(sock: socket.socket, end: str, deadline: float) -> None:
    if end == "reset":
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    elif end == "half-close":
        # Over TLS too this is TCP's FIN with no close_notify: after it, what arrives is only
        # read to the server's end of stream, never parsed.
        sock.shutdown(socket.SHUT_WR)
        while time.monotonic() < deadline and sock.recv(65536):
            pass
