"""A small RFC 9220 client: WebSockets as extended CONNECT streams on one HTTP/3 connection.

Built on aioquic's sans-I/O ``QuicConnection`` and ``H3Connection`` (ALPN ``h3``),
driven over a plain UDP socket by a pump loop in the calling thread, for the tests
only. Each ``open_websocket`` is a new request stream on the same connection; ``get``
loads a regular page beside them.

Every wait gives up with ``TimeoutError`` after ``timeout`` seconds in which no
datagram arrived (so a long transfer that keeps moving never times out).
"""

from __future__ import annotations

import select
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable, Iterable
from typing import NamedTuple

from aioquic.h3.connection import H3_ALPN, Setting
from aioquic.h3.connection import H3Connection as _H3State
from aioquic.h3.events import DataReceived, HeadersReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import QuicConnection
from aioquic.quic.events import (
    ConnectionTerminated,
    HandshakeCompleted,
    ProtocolNegotiated,
    StopSendingReceived,
    StreamReset,
)

from mod_pywebsocket.core.frames import FrameParser, build_frame

#: H3_REQUEST_CANCELLED (RFC 9114 section 8.1), what ``reset`` sends by default.
H3_REQUEST_CANCELLED = 0x010C
#: How much of a stream's data may wait in aioquic's send buffer (unacknowledged)
#: before ``send_frame`` pumps the connection instead of writing more.
SEND_CHUNK = 1 << 20
SEND_BUFFERED = 4 << 20
#: Datagrams read in one go before their events are handled and ACKs sent.
RECV_BATCH = 64


class WebSocketClosed(Exception):
    """``recv`` met the server's close frame."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"the server closed the WebSocket: {code} {reason!r}")
        self.code = code
        self.reason = reason


class ReceivedFrame(NamedTuple):
    fin: bool
    opcode: int
    payload: bytes


def _close_body(payload: bytes) -> tuple[int, str]:
    if len(payload) < 2:
        return 1005, ""
    return struct.unpack("!H", payload[:2])[0], payload[2:].decode("utf-8", "replace")


class H3Connection:
    def __init__(
        self, host: str, port: int, *, verify: bool = False, cafile: str | None = None, timeout: float = 10.0
    ) -> None:
        self.timeout = timeout
        self.host, self.port = host, port
        self.authority = f"{host}:{port}"
        configuration = QuicConfiguration(
            is_client=True,
            alpn_protocols=H3_ALPN,
            server_name=host,
            verify_mode=ssl.CERT_REQUIRED if verify else ssl.CERT_NONE,
            idle_timeout=max(60.0, 2 * timeout),
        )
        if cafile is not None:
            configuration.load_verify_locations(cafile=cafile)
        family, _, _, _, self._addr = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        except OSError:
            pass
        self.sock.connect(self._addr)
        self._lock = threading.RLock()
        self.headers: dict[int, dict[str, str]] = {}
        self.trailers: dict[int, dict[str, str]] = {}
        self.data: dict[int, bytearray] = {}
        self.ended: set[int] = set()
        self.resets: dict[int, int] = {}  # stream -> the server's RESET_STREAM code
        self.stopped: dict[int, int] = {}  # stream -> the server's STOP_SENDING code
        self.alpn: str | None = None
        self.terminated: ConnectionTerminated | None = None
        self._handshake_done = False
        self.quic = QuicConnection(configuration=configuration)
        self.quic.connect(self._addr, now=time.monotonic())
        self.h3 = _H3State(self.quic)
        self._flush()
        try:
            self.wait(lambda: self._handshake_done and self.h3.received_settings is not None)
        except BaseException:
            self.sock.close()
            raise
        if self.alpn != "h3":
            self.close()
            raise ConnectionError(f"ALPN chose {self.alpn!r}, not h3")

    # -- connection state ---------------------------------------------------------

    @property
    def settings(self) -> dict[int, int]:
        """The server's SETTINGS (aioquic's ``H3Connection.received_settings``)."""
        return dict(self.h3.received_settings or {})

    @property
    def connect_protocol_enabled(self) -> bool:
        return self.settings.get(Setting.ENABLE_CONNECT_PROTOCOL) == 1

    @property
    def peer_certificate(self):
        """The server's certificate (a ``cryptography`` x509 object), or None."""
        return getattr(self.quic.tls, "_peer_certificate", None)

    # -- the pump -----------------------------------------------------------------

    def _flush(self) -> None:
        for data, _addr in self.quic.datagrams_to_send(now=time.monotonic()):
            try:
                self.sock.send(data)
            except OSError:
                pass  # a lost datagram: QUIC sends it again

    def _handle_events(self) -> None:
        while (event := self.quic.next_event()) is not None:
            if isinstance(event, ProtocolNegotiated):
                self.alpn = event.alpn_protocol
            elif isinstance(event, HandshakeCompleted):
                self._handshake_done = True
            elif isinstance(event, StreamReset):
                self.resets[event.stream_id] = event.error_code
            elif isinstance(event, StopSendingReceived):
                self.stopped[event.stream_id] = event.error_code
            elif isinstance(event, ConnectionTerminated):
                self.terminated = event
            for h3_event in self.h3.handle_event(event):
                if getattr(h3_event, "push_id", None) is not None:
                    continue  # no pushes here
                if isinstance(h3_event, HeadersReceived):
                    fields: dict[str, str] = {}
                    for name, value in h3_event.headers:
                        key, text = name.decode("utf-8", "replace"), value.decode("utf-8", "replace")
                        fields[key] = f"{fields[key]}, {text}" if key in fields else text
                    if h3_event.stream_id not in self.headers:
                        if not fields.get(":status", "").startswith("1"):  # skip interim responses
                            self.headers[h3_event.stream_id] = fields
                    else:
                        self.trailers[h3_event.stream_id] = fields
                    if h3_event.stream_ended:
                        self.ended.add(h3_event.stream_id)
                elif isinstance(h3_event, DataReceived):
                    self.data.setdefault(h3_event.stream_id, bytearray()).extend(h3_event.data)
                    if h3_event.stream_ended:
                        self.ended.add(h3_event.stream_id)

    def _pump(self, deadline: float) -> bool:
        """Wait for datagrams or the next QUIC timer, at most until ``deadline``; handle
        what came and send what is due. True when a datagram arrived."""
        now = time.monotonic()
        wake = deadline
        timer = self.quic.get_timer()
        if timer is not None:
            wake = min(wake, timer)
        readable, _, _ = select.select([self.sock], [], [], max(0.0, wake - now))
        arrived = False
        if readable:
            for _ in range(RECV_BATCH):
                try:
                    data = self.sock.recv(65536, socket.MSG_DONTWAIT)
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:
                    break  # e.g. ICMP port unreachable: the idle timer will end the connection
                arrived = True
                self.quic.receive_datagram(data, self._addr, now=time.monotonic())
        timer = self.quic.get_timer()
        now = time.monotonic()
        if timer is not None and now >= timer:
            self.quic.handle_timer(now=now)
        self._handle_events()
        self._flush()
        return arrived

    def wait(self, predicate: Callable[[], bool]) -> None:
        """Pump until ``predicate()``; TimeoutError after ``timeout`` seconds without a
        datagram, ConnectionError once the QUIC connection has ended."""
        with self._lock:
            deadline = time.monotonic() + self.timeout
            while not predicate():
                if self.terminated is not None:
                    event = self.terminated
                    raise ConnectionError(
                        f"the QUIC connection ended (error {event.error_code:#x}, {event.reason_phrase!r})"
                    )
                if time.monotonic() >= deadline:
                    raise TimeoutError(f"nothing from the server in {self.timeout} s")
                if self._pump(deadline):
                    deadline = time.monotonic() + self.timeout

    def poll(self) -> None:
        """Handle whatever has arrived, without waiting."""
        with self._lock:
            self._pump(time.monotonic())

    def unacked(self, stream_id: int) -> int:
        """Bytes written on the stream that the server has not acknowledged yet."""
        stream = self.quic._streams.get(stream_id)
        if stream is None:
            return 0
        sender = stream.sender
        return sender._buffer_stop - sender._buffer_start

    # -- requests -----------------------------------------------------------------

    def _request(self, headers: list[tuple[str, str]], end_stream: bool) -> int:
        with self._lock:
            stream_id = self.quic.get_next_available_stream_id()
            encoded = [(name.encode("utf-8"), value.encode("utf-8")) for name, value in headers]
            self.h3.send_headers(stream_id, encoded, end_stream=end_stream)
            self._flush()
            return stream_id

    def open_websocket(
        self,
        path: str,
        extra_headers: Iterable[tuple[str, str]] = (),
        protocol: str | None = "websocket",
        method: str = "CONNECT",
    ) -> H3WebSocket:
        """An extended CONNECT (``protocol=None`` leaves ``:protocol`` out); returns once
        the response headers came (or the stream was reset or ended without them)."""
        headers = [(":method", method)]
        if protocol is not None:
            headers.append((":protocol", protocol))
        headers += [
            (":scheme", "https"),
            (":path", path),
            (":authority", self.authority),
            ("sec-websocket-version", "13"),
            *((name.lower(), value) for name, value in extra_headers),
        ]
        stream_id = self._request(headers, end_stream=False)
        self.wait(lambda: stream_id in self.headers or stream_id in self.resets or stream_id in self.ended)
        return H3WebSocket(self, stream_id, self.headers.get(stream_id, {}))

    def get(self, path: str, extra_headers: Iterable[tuple[str, str]] = ()) -> tuple[dict[str, str], bytes]:
        """A GET on a stream of its own: the response headers and the whole body."""
        headers = [
            (":method", "GET"),
            (":scheme", "https"),
            (":path", path),
            (":authority", self.authority),
            *((name.lower(), value) for name, value in extra_headers),
        ]
        stream_id = self._request(headers, end_stream=True)
        self.wait(lambda: stream_id in self.ended or stream_id in self.resets)
        if stream_id in self.resets and stream_id not in self.ended:
            raise ConnectionResetError(f"the server reset the GET stream (error {self.resets[stream_id]:#x})")
        return self.headers.get(stream_id, {}), bytes(self.data.pop(stream_id, b""))

    def __enter__(self) -> H3Connection:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            try:
                self.quic.close()
                self._flush()
            finally:
                self.sock.close()


class H3WebSocket:
    """One WebSocket on an HTTP/3 request stream: masked frames out, server frames in."""

    def __init__(self, conn: H3Connection, stream_id: int, headers: dict[str, str]) -> None:
        self.conn = conn
        self.stream_id = stream_id
        self.headers = headers
        self.status = int(headers.get(":status", "0"))
        self.close_received: tuple[int, str] | None = None
        self.close_sent = False
        self.last_rsv1 = False
        self._parser = FrameParser(require_mask=False)
        self._parser.allow_rsv1 = True

    @property
    def response(self) -> dict[str, str]:
        return self.headers

    @property
    def ended(self) -> bool:
        """The server's FIN arrived on the stream."""
        return self.stream_id in self.conn.ended

    @property
    def was_reset(self) -> bool:
        """The server reset the stream (RESET_STREAM)."""
        return self.stream_id in self.conn.resets

    @property
    def reset_code(self) -> int | None:
        return self.conn.resets.get(self.stream_id)

    @property
    def stopped(self) -> bool:
        """The server asked us to stop sending (STOP_SENDING)."""
        return self.stream_id in self.conn.stopped

    def body(self) -> bytes:
        """The response body to the end of the stream (for a refused upgrade)."""
        self.conn.wait(lambda: self.ended or self.was_reset)
        return bytes(self.conn.data.pop(self.stream_id, b""))

    # -- sending ------------------------------------------------------------------

    def _check_writable(self) -> None:
        if self.stopped:
            raise ConnectionResetError(f"the server stopped the stream (error {self.conn.stopped[self.stream_id]:#x})")

    def _write(self, data: bytes, end_stream: bool) -> None:
        conn = self.conn
        with conn._lock:
            view = memoryview(data)
            while True:
                self._check_writable()
                piece, view = view[:SEND_CHUNK], view[SEND_CHUNK:]
                last = not view
                conn.h3.send_data(self.stream_id, bytes(piece), end_stream=end_stream and last)
                conn._flush()
                if last:
                    return
                conn.wait(lambda: self.stopped or conn.unacked(self.stream_id) <= SEND_BUFFERED - SEND_CHUNK)

    def send_frame(
        self, opcode: int, payload: bytes, fin: bool = True, rsv1: bool = False, end_stream: bool = False
    ) -> None:
        self._write(build_frame(opcode, payload, fin=fin, rsv1=rsv1, mask=True), end_stream)
        if opcode == 0x8:
            self.close_sent = True

    def send(self, message: str | bytes) -> None:
        if isinstance(message, str):
            self.send_frame(0x1, message.encode("utf-8"))
        else:
            self.send_frame(0x2, message)

    def end_stream(self) -> None:
        """Send our FIN (an empty DATA frame that ends the stream)."""
        self._write(b"", end_stream=True)

    def reset(self, error_code: int = H3_REQUEST_CANCELLED) -> None:
        """Abort both directions: RESET_STREAM and STOP_SENDING."""
        conn = self.conn
        with conn._lock:
            conn.quic.reset_stream(self.stream_id, error_code)
            try:
                conn.quic.stop_stream(self.stream_id, error_code)
            except ValueError:
                pass  # the stream's receiving part is gone already
            conn._flush()

    # -- receiving ----------------------------------------------------------------

    def recv_frame(self) -> ReceivedFrame:
        """The next frame from the server; raises ConnectionError if the stream ends first."""
        conn = self.conn
        while True:
            pending = conn.data.get(self.stream_id)
            if pending:
                self._parser.feed(bytes(pending))
                pending.clear()
            frame = self._parser.next_frame()
            if frame is not None:
                self.last_rsv1 = bool(frame.rsv1)
                if frame.opcode == 0x8 and self.close_received is None:
                    self.close_received = _close_body(frame.payload)
                return ReceivedFrame(bool(frame.fin), frame.opcode, frame.payload)
            if self.was_reset:
                raise ConnectionResetError(f"the server reset the stream (error {self.reset_code:#x})")
            if self.ended:
                raise ConnectionError("the stream ended")
            conn.wait(lambda: bool(conn.data.get(self.stream_id)) or self.ended or self.was_reset)

    def recv(self) -> str | bytes:
        """One whole message (continuations joined). Pings are answered, pongs skipped;
        a close frame raises WebSocketClosed. Compressed payloads are not inflated."""
        opcode = None
        parts: list[bytes] = []
        while True:
            fin, frame_opcode, payload = self.recv_frame()
            if frame_opcode == 0x8:
                raise WebSocketClosed(*_close_body(payload))
            if frame_opcode == 0x9:
                self.send_frame(0xA, payload)
                continue
            if frame_opcode == 0xA:
                continue
            if opcode is None:
                opcode = frame_opcode
            parts.append(payload)
            if fin:
                break
        message = b"".join(parts)
        return message.decode("utf-8") if opcode == 0x1 else message

    def close(self, code: int = 1000, reason: str = "", end_stream: bool = False) -> tuple[int, str]:
        """Send a close (ending our side of the stream too with ``end_stream``), return the
        server's (code, reason), then wait up to the timeout for the server's FIN."""
        if not self.close_sent:
            self.send_frame(0x8, struct.pack("!H", code) + reason.encode("utf-8"), end_stream=end_stream)
        while self.close_received is None:
            self.recv_frame()
        try:
            self.conn.wait(lambda: self.ended or self.was_reset)
        except TimeoutError:
            pass
        return self.close_received
