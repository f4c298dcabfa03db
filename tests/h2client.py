"""A small RFC 8441 client: WebSockets as extended CONNECT streams on one HTTP/2 connection.

Built on the ``h2`` package (sans-I/O HTTP/2) over TLS with ALPN ``h2``, for
the tests only. Each ``open_websocket`` is a new stream on the same connection;
``get`` loads a regular page beside them.
"""

from __future__ import annotations

import socket
import ssl
import struct
import threading

import h2.config
import h2.connection
import h2.events
import h2.settings

from mod_pywebsocket.core.frames import FrameParser, build_frame

CONNECT_PROTOCOL = h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL


class H2Connection:
    def __init__(self, host: str, port: int, context: ssl.SSLContext, timeout: float = 10.0) -> None:
        context.set_alpn_protocols(["h2", "http/1.1"])
        raw = socket.create_connection((host, port), timeout=timeout)
        # Frames go out at once: with Nagle's algorithm a small frame after a large one waits
        # for the peer's delayed ACK (measured: 1 MiB echoes at 1.4 MiB/s instead of 153, docs/performance.md).
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = context.wrap_socket(raw, server_hostname=host)
        if self.sock.selected_alpn_protocol() != "h2":
            raise ConnectionError(f"ALPN chose {self.sock.selected_alpn_protocol()!r}, not h2")
        self.authority = f"{host}:{port}"
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
        self.conn.initiate_connection()
        self._lock = threading.Lock()
        self.headers: dict[int, dict[str, str]] = {}
        self.data: dict[int, bytearray] = {}
        self.ended: set[int] = set()
        self.reset: set[int] = set()
        self._settings_received = False
        self._flush()
        while not self._settings_received:
            self._pump()

    @property
    def connect_protocol_enabled(self) -> bool:
        return self.conn.remote_settings.get(CONNECT_PROTOCOL) == 1

    def _flush(self) -> None:
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def _pump(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the HTTP/2 connection")
        for event in self.conn.receive_data(chunk):
            if isinstance(event, h2.events.ResponseReceived):
                self.headers[event.stream_id] = dict(event.headers)
            elif isinstance(event, h2.events.DataReceived):
                self.data.setdefault(event.stream_id, bytearray()).extend(event.data)
                self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                self.ended.add(event.stream_id)
            elif isinstance(event, h2.events.StreamReset):
                self.reset.add(event.stream_id)
            elif isinstance(event, h2.events.RemoteSettingsChanged):
                self._settings_received = True
        self._flush()

    def wait(self, predicate) -> None:
        while not predicate():
            self._pump()

    def open_websocket(self, path: str, extra_headers: list[tuple[str, str]] = ()) -> H2WebSocket:
        stream_id = self.conn.get_next_available_stream_id()
        headers = [
            (":method", "CONNECT"),
            (":protocol", "websocket"),
            (":scheme", "https"),
            (":path", path),
            (":authority", self.authority),
            ("sec-websocket-version", "13"),
            *extra_headers,
        ]
        self.conn.send_headers(stream_id, headers)
        self._flush()
        self.wait(lambda: stream_id in self.headers or stream_id in self.reset)
        return H2WebSocket(self, stream_id, self.headers.get(stream_id, {}))

    def get(self, path: str) -> tuple[dict[str, str], bytes]:
        stream_id = self.conn.get_next_available_stream_id()
        headers = [(":method", "GET"), (":scheme", "https"), (":path", path), (":authority", self.authority)]
        self.conn.send_headers(stream_id, headers, end_stream=True)
        self._flush()
        self.wait(lambda: stream_id in self.ended or stream_id in self.reset)
        return self.headers.get(stream_id, {}), bytes(self.data.get(stream_id, b""))

    def close(self) -> None:
        try:
            self.conn.close_connection()
            self._flush()
        finally:
            self.sock.close()


class H2WebSocket:
    """One WebSocket on an HTTP/2 stream: masked frames out, server frames in."""

    def __init__(self, h2conn: H2Connection, stream_id: int, response: dict[str, str]) -> None:
        self.h2 = h2conn
        self.stream_id = stream_id
        self.response = response
        self.status = int(response.get(":status", "0"))
        self._parser = FrameParser(require_mask=False)
        self._parser.allow_rsv1 = "permessage-deflate" in response.get("sec-websocket-extensions", "")

    def send_frame(self, opcode: int, payload: bytes, end_stream: bool = False, fin: bool = True) -> None:
        data = memoryview(build_frame(opcode, payload, fin=fin, mask=True))
        conn = self.h2.conn
        while data:
            self.h2.wait(lambda: conn.local_flow_control_window(self.stream_id) > 0)
            size = min(len(data), conn.local_flow_control_window(self.stream_id), conn.max_outbound_frame_size)
            conn.send_data(self.stream_id, bytes(data[:size]), end_stream=end_stream and size == len(data))
            self.h2._flush()
            data = data[size:]

    def send(self, message: str | bytes) -> None:
        if isinstance(message, str):
            self.send_frame(0x1, message.encode("utf-8"))
        else:
            self.send_frame(0x2, message)

    def recv_frame(self):
        while True:
            pending = self.h2.data.get(self.stream_id)
            if pending:
                self._parser.feed(bytes(pending))
                pending.clear()
            frame = self._parser.next_frame()
            if frame is not None:
                return frame
            if self.stream_id in self.h2.ended or self.stream_id in self.h2.reset:
                raise ConnectionError("the stream ended")
            self.h2._pump()

    def recv(self) -> str | bytes:
        frame = self.recv_frame()
        return frame.payload.decode("utf-8") if frame.opcode == 0x1 else frame.payload

    def close(self, code: int = 1000, reason: str = "") -> tuple[int, str]:
        """Send a close and return the server's (code, reason)."""
        self.send_frame(0x8, struct.pack("!H", code) + reason.encode("utf-8"))
        while True:
            frame = self.recv_frame()
            if frame.opcode == 0x8:
                code = struct.unpack("!H", frame.payload[:2])[0] if len(frame.payload) >= 2 else 1005
                return code, frame.payload[2:].decode("utf-8")
