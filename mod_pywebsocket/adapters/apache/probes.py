"""The readiness probes: does a listener really serve, the way a client uses it?

Each probe connects to a listen address (``probe_host``: loopback for a wildcard), with
the certificate unchecked (it is often self-signed), says ``User-Agent:
mod_pywebsocket-healthcheck`` (``USER_AGENT``: left out of Apache's access log), and is
bounded by ``PROBE_TIMEOUT``. It returns the status of ``GET path`` (the appliance's
``PROBE_PATH``, ``/mod_pywebsocket/spki``, or the path it is given), or raises
``NotServing``, whose message says how, in a few words:

- ``http_status``: HTTP/1.1, in the clear or over TLS with ALPN ``http/1.1``;
- ``h2_status``: HTTP/2 on the TLS port: ALPN chooses ``h2`` and the server's SETTINGS
  announce the extended CONNECT (RFC 8441), then the GET;
- ``h3_status``: HTTP/3 (aioquic): the QUIC handshake and the server's SETTINGS, then,
  given a path, the GET.
"""

from __future__ import annotations

import select
import socket
import ssl
import time

from ...runtime.listeners import PROBE_AGENT, host_port

USER_AGENT = PROBE_AGENT  # left out of Apache's access log
PROBE_PATH = "/mod_pywebsocket/spki"
PROBE_TIMEOUT = 2.0


class NotServing(Exception):
    """A listener that does not serve; the message says how, in a few words."""


def probe_host(host: str) -> str:
    """Where a probe connects: the listen address, loopback for a wildcard."""
    if host in ("", "*", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "::1"
    return host


def _tls_context(alpn: list[str]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # a probe of our own listener: its certificate is often self-signed
    context.set_alpn_protocols(alpn)
    return context


def _connect(host: str, port: int, timeout: float, alpn: list[str] | None) -> socket.socket:
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except ConnectionRefusedError:
        raise NotServing("connection refused") from None
    except TimeoutError:
        raise NotServing(f"no connection within {timeout:g}s") from None
    if alpn is None:
        return sock
    try:
        return _tls_context(alpn).wrap_socket(sock, server_hostname=None)
    except (ssl.SSLError, OSError) as e:
        sock.close()
        raise NotServing(f"TLS handshake failed ({_why(e)})") from None


def _why(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return "timed out"
    if isinstance(error, ssl.SSLError):
        return error.reason or str(error)
    if isinstance(error, OSError) and error.strerror:
        return error.strerror.lower()
    return str(error) or type(error).__name__


def http_status(host: str, port: int, path: str, *, tls: bool = False, timeout: float = PROBE_TIMEOUT) -> int:
    """The status of ``GET path`` over HTTP/1.1 (over TLS with ALPN ``http/1.1``)."""
    deadline = time.monotonic() + timeout
    sock = _connect(host, port, timeout, ["http/1.1"] if tls else None)
    with sock:
        if isinstance(sock, ssl.SSLSocket) and sock.selected_alpn_protocol() not in (None, "http/1.1"):
            raise NotServing(f"ALPN chose {sock.selected_alpn_protocol()}, not http/1.1")
        request = (
            f"GET {path} HTTP/1.1\r\nHost: {host_port(host, port)}\r\n"
            f"User-Agent: {USER_AGENT}\r\nConnection: close\r\n\r\n"
        )
        head = b""
        try:
            sock.sendall(request.encode("ascii"))
            while b"\r\n" not in head and len(head) < 4096:
                sock.settimeout(max(deadline - time.monotonic(), 0.01))
                chunk = sock.recv(4096)
                if not chunk:
                    break
                head += chunk
        except OSError as e:
            raise NotServing(f"no answer ({_why(e)})") from None
    status = head.split(b"\r\n", 1)[0].split()
    if len(status) < 2 or not status[0].startswith(b"HTTP/1.") or not status[1].isdigit():
        raise NotServing("no HTTP answer" if not head else "not an HTTP/1.1 answer")
    return int(status[1])


# HTTP/2 framing (RFC 9113), as little as a probe needs.
H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
H2_DATA, H2_HEADERS, H2_SETTINGS, H2_GOAWAY = 0x0, 0x1, 0x4, 0x7
H2_END_STREAM, H2_ACK, H2_END_HEADERS, H2_PADDED, H2_PRIORITY = 0x1, 0x1, 0x4, 0x8, 0x20
H2_ENABLE_CONNECT_PROTOCOL = 0x8
#: HPACK's static table entries for :status (RFC 7541 appendix A).
H2_STATIC_STATUS = {8: 200, 9: 204, 10: 206, 11: 304, 12: 400, 13: 404, 14: 500}


def _h2_frame(kind: int, flags: int, stream: int, payload: bytes = b"") -> bytes:
    return len(payload).to_bytes(3, "big") + bytes([kind, flags]) + stream.to_bytes(4, "big") + payload


def _hpack_string(text: str) -> bytes:
    data = text.encode("ascii")
    if len(data) >= 127:
        raise ValueError("too long for this encoder")
    return bytes([len(data)]) + data


def _h2_request(path: str, authority: str) -> bytes:
    """A GET's header block: indexed :method GET and :scheme https, then literals
    without indexing whose names are static-table entries (:authority 1, :path 4,
    user-agent 58), no Huffman coding."""
    return (
        b"\x82\x87"
        + b"\x04"
        + _hpack_string(path)
        + b"\x01"
        + _hpack_string(authority)
        + b"\x0f\x2b"  # name index 58: 15 in the 4-bit prefix, then 43
        + _hpack_string(USER_AGENT)
    )


def _h2_status(block: bytes) -> int:
    """:status from the first field of a response's header block (servers send it first):
    a static-table entry (200 is always one) or a literal without Huffman coding."""
    if not block:
        raise NotServing("an empty HTTP/2 header block")
    first = block[0]
    if first & 0x80:
        status = H2_STATIC_STATUS.get(first & 0x7F)
        if status is not None:
            return status
    elif first in (0x48, 0x08, 0x18) and len(block) > 1 and not block[1] & 0x80:  # literal, name :status
        value = block[2 : 2 + block[1]]
        if value.isdigit():
            return int(value)
    raise NotServing("answers a status other than 200")


def h2_status(host: str, port: int, path: str, timeout: float = PROBE_TIMEOUT) -> int:
    """The status of ``GET path`` over HTTP/2 on the TLS port; NotServing unless ALPN
    chooses h2 and the server's SETTINGS enable the extended CONNECT (RFC 8441)."""
    deadline = time.monotonic() + timeout
    sock = _connect(host, port, timeout, ["h2"])
    with sock:
        assert isinstance(sock, ssl.SSLSocket)
        if sock.selected_alpn_protocol() != "h2":
            raise NotServing(f"ALPN chose {sock.selected_alpn_protocol() or 'nothing'}, not h2")
        block = _h2_request(path, host_port(host, port))
        buffer = b""
        settings: dict[int, int] | None = None
        try:
            sock.sendall(H2_PREFACE + _h2_frame(H2_SETTINGS, 0, 0) + _h2_frame(H2_HEADERS, 0x5, 1, block))
            while True:
                while len(buffer) < 9 or len(buffer) < 9 + int.from_bytes(buffer[:3], "big"):
                    sock.settimeout(max(deadline - time.monotonic(), 0.01))
                    chunk = sock.recv(65536)
                    if not chunk:
                        raise NotServing("the HTTP/2 connection ended before the answer")
                    buffer += chunk
                length = int.from_bytes(buffer[:3], "big")
                kind, flags, stream = buffer[3], buffer[4], int.from_bytes(buffer[5:9], "big") & 0x7FFFFFFF
                payload, buffer = buffer[9 : 9 + length], buffer[9 + length :]
                if kind == H2_SETTINGS and not flags & H2_ACK:
                    settings = {
                        int.from_bytes(payload[i : i + 2], "big"): int.from_bytes(payload[i + 2 : i + 6], "big")
                        for i in range(0, len(payload) - 5, 6)
                    }
                    sock.sendall(_h2_frame(H2_SETTINGS, H2_ACK, 0))
                elif kind == H2_GOAWAY:
                    raise NotServing("the server sent GOAWAY")
                elif kind == H2_HEADERS and stream == 1:
                    if settings is None:
                        raise NotServing("no SETTINGS frame before the answer")
                    if settings.get(H2_ENABLE_CONNECT_PROTOCOL) != 1:
                        raise NotServing("HTTP/2 without the extended CONNECT (no WebSockets)")
                    if flags & H2_PADDED:
                        payload = payload[1 : len(payload) - payload[0]]
                    if flags & H2_PRIORITY:
                        payload = payload[5:]
                    return _h2_status(payload)
        except OSError as e:
            raise NotServing(f"no HTTP/2 answer ({_why(e)})") from None


def h3_status(host: str, port: int, path: str | None, timeout: float = PROBE_TIMEOUT) -> int | None:
    """Over HTTP/3 (aioquic): the QUIC handshake and the server's SETTINGS, then, with a
    ``path``, the status of ``GET path`` (None without)."""
    from aioquic.h3.connection import H3_ALPN, H3Connection
    from aioquic.h3.events import HeadersReceived
    from aioquic.quic.configuration import QuicConfiguration
    from aioquic.quic.connection import QuicConnection
    from aioquic.quic.events import ConnectionTerminated, HandshakeCompleted

    configuration = QuicConfiguration(
        is_client=True, alpn_protocols=H3_ALPN, verify_mode=ssl.CERT_NONE, idle_timeout=timeout + 1
    )
    family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
    quic = QuicConnection(configuration=configuration)
    h3 = H3Connection(quic)
    deadline = time.monotonic() + timeout
    shaken, stream, status = False, None, None
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.connect(address)
        quic.connect(address, now=time.monotonic())
        try:
            while True:
                for datagram, _ in quic.datagrams_to_send(now=time.monotonic()):
                    sock.send(datagram)
                now = time.monotonic()
                if shaken and h3.received_settings is not None:
                    if path is None or status is not None:
                        break
                    if stream is None:
                        stream = quic.get_next_available_stream_id()
                        authority = host_port(host, port).encode("ascii")
                        h3.send_headers(
                            stream,
                            [(b":method", b"GET"), (b":scheme", b"https"), (b":authority", authority),
                             (b":path", path.encode("ascii")), (b"user-agent", USER_AGENT.encode("ascii"))],
                            end_stream=True,
                        )  # fmt: skip
                        continue
                if now >= deadline:
                    what = "no answer" if shaken else "no QUIC handshake"
                    raise NotServing(f"{what} within {timeout:g}s")
                timer = quic.get_timer()
                wait = min(deadline, timer if timer is not None else deadline) - now
                if select.select([sock], [], [], max(wait, 0))[0]:
                    try:
                        data = sock.recv(65536)
                    except ConnectionRefusedError:
                        raise NotServing("nothing listens (ICMP port unreachable)") from None
                    quic.receive_datagram(data, address, now=time.monotonic())
                timer = quic.get_timer()
                if timer is not None and time.monotonic() >= timer:
                    quic.handle_timer(now=time.monotonic())
                while (event := quic.next_event()) is not None:
                    if isinstance(event, HandshakeCompleted):
                        shaken = True
                    elif isinstance(event, ConnectionTerminated):
                        raise NotServing(f"the QUIC connection ended ({event.reason_phrase or event.error_code})")
                    for h3_event in h3.handle_event(event):
                        if isinstance(h3_event, HeadersReceived) and h3_event.stream_id == stream:
                            fields = dict(h3_event.headers)
                            value = fields.get(b":status", b"")
                            status = int(value) if value.isdigit() else 0
        finally:
            quic.close()
            for datagram, _ in quic.datagrams_to_send(now=time.monotonic()):
                try:
                    sock.send(datagram)
                except OSError:
                    pass
    return status
