"""The HTTP/3 adapter's parts without a network: the stream connection between the QUIC
loop and a handler's thread, the RFC 9220 handshake, the certificate Chromium takes."""

from __future__ import annotations

import base64
import datetime
import hashlib
import subprocess
import threading
import time

import pytest

pytest.importorskip("aioquic")

from cryptography import x509  # noqa: E402  (after the skip: aioquic brings cryptography)
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402

from mod_pywebsocket.adapters.h3 import certificate  # noqa: E402
from mod_pywebsocket.adapters.h3.handshake import H3Handshaker  # noqa: E402
from mod_pywebsocket.adapters.h3.stream_connection import (  # noqa: E402
    HIGH_WATER,
    RECEIVE_WINDOW,
    WRITE_PIECE,
    StreamConnection,
)
from mod_pywebsocket.adapters.standalone.http_head import Headers  # noqa: E402
from mod_pywebsocket.core.errors import HandshakeException, VersionException  # noqa: E402
from mod_pywebsocket.runtime import settings  # noqa: E402
from mod_pywebsocket.runtime.request import WebSocketRequest  # noqa: E402


class FakeTransport:
    """The loop side: records what was sent; the peer acknowledges when told to."""

    def __init__(self) -> None:
        self.sent: list[tuple[bytes, bool]] = []
        self.headers: list[tuple[list[tuple[bytes, bytes]], bool]] = []
        self.pending = 0
        self.credits_freed = 0

    def send(self, data: bytes, end_stream: bool) -> int:
        self.sent.append((data, end_stream))
        self.pending += len(data)
        return self.pending

    def unacknowledged(self) -> int:
        return self.pending

    def credit_freed(self) -> None:
        self.credits_freed += 1

    def send_headers(self, headers, end_stream) -> None:
        self.headers.append((headers, end_stream))


def connection(transport: FakeTransport | None = None) -> StreamConnection:
    return StreamConnection(transport or FakeTransport(), ("127.0.0.1", 5000), ("127.0.0.1", 443))


# -- the stream connection ---------------------------------------------------------


def test_reads_return_what_arrived_then_the_fin():
    conn = connection()
    conn.feed(b"abc", False)
    conn.feed(b"defg", True)
    assert conn.read(2) == b"ab"
    assert conn.read(100) == b"c"
    assert conn.read(100) == b"defg"
    assert conn.read(100) == b""  # the peer's FIN: end of stream, as a socket's recv
    assert conn.received == 7


def test_reading_frees_credit_once_half_the_window_is_read():
    transport = FakeTransport()
    conn = connection(transport)
    conn.feed(b"x" * RECEIVE_WINDOW, False)
    assert conn.unread == RECEIVE_WINDOW
    while conn.unread >= RECEIVE_WINDOW // 2:
        assert transport.credits_freed == 0
        conn.read(64 * 1024)
    assert transport.credits_freed == 1  # once, as it crossed the half
    conn.read(RECEIVE_WINDOW)
    assert conn.unread == 0 and transport.credits_freed == 1


def test_a_read_waits_for_data_from_the_loop():
    conn = connection()
    threading.Timer(0.05, conn.feed, (b"late", False)).start()
    assert conn.read(10) == b"late"


def test_a_read_times_out_like_a_socket():
    conn = connection()
    conn.set_read_timeout(0.05)
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        conn.read(10)
    assert time.monotonic() - started < 2


def test_an_aborted_stream_fails_reads_and_writes_as_a_reset_socket():
    conn = connection()
    conn.feed(b"kept", False)
    conn.abort("the client reset the stream (error 0x10c)")
    assert conn.read(10) == b"kept"  # what arrived before the reset is still read
    with pytest.raises(ConnectionResetError, match="reset the stream"):
        conn.read(10)
    with pytest.raises(ConnectionResetError):
        conn.write(b"x")


def test_an_abort_wakes_a_blocked_reader():
    conn = connection()
    threading.Timer(0.05, conn.abort, ("the QUIC connection was lost",)).start()
    with pytest.raises(ConnectionResetError, match="lost"):
        conn.read(10)


def test_writes_go_in_pieces_and_wait_for_the_peer_above_the_high_water_mark():
    transport = FakeTransport()
    conn = connection(transport)
    conn.set_timeout(5)
    size = HIGH_WATER + 3 * WRITE_PIECE

    def acknowledge() -> None:
        time.sleep(0.1)
        transport.pending = 0

    threading.Thread(target=acknowledge).start()
    started = time.monotonic()
    conn.write(b"x" * size)
    assert time.monotonic() - started >= 0.05  # it waited for the acknowledgement
    assert b"".join(data for data, _ in transport.sent) == b"x" * size
    assert max(len(data) for data, _ in transport.sent) == WRITE_PIECE


def test_a_peer_that_never_acknowledges_times_the_write_out():
    transport = FakeTransport()
    conn = connection(transport)
    conn.set_timeout(0.1)
    with pytest.raises(TimeoutError, match="not read"):
        conn.write(b"x" * (HIGH_WATER + WRITE_PIECE))


def test_end_sends_the_fin_unless_the_stream_is_gone():
    transport = FakeTransport()
    conn = connection(transport)
    conn.end()
    assert transport.sent[-1] == (b"", True)
    aborted = FakeTransport()
    conn = connection(aborted)
    conn.abort("gone")
    conn.end()
    assert aborted.sent == []


# -- the handshake ------------------------------------------------------------------


class Hooks:
    def do_extra_handshake(self, request) -> None:
        if request.ws_requested_protocols:
            request.ws_protocol = request.ws_requested_protocols[0]
        request.extra_headers.append(("X-Extra", "yes"))

    def passive_closing_handshake(self, request):
        return 1000, ""


def h3_request(method: str = "CONNECT", **fields: str) -> tuple[WebSocketRequest, FakeTransport]:
    headers = Headers([("sec-websocket-version", "13")])
    for name, value in fields.items():
        headers.add(name.replace("_", "-"), value)
    transport = FakeTransport()
    request = WebSocketRequest(
        method=method,
        unparsed_uri="/echo",
        protocol="HTTP/3",
        headers_in=headers,
        connection=connection(transport),
        is_https=True,
    )
    return request, transport


def test_the_extended_connect_is_answered_with_a_bare_200():
    request, transport = h3_request(sec_websocket_protocol="chat, other", origin="https://a.test")
    H3Handshaker(request, Hooks()).do_handshake()
    ((headers, end_stream),) = transport.headers
    assert not end_stream
    assert headers[0] == (b":status", b"200")
    fields = dict(headers)
    assert fields[b"sec-websocket-protocol"] == b"chat"
    assert fields[b"x-extra"] == b"yes"
    assert b"sec-websocket-accept" not in fields  # no key, no accept over HTTP/2 and 3
    assert (request.ws_origin, request.ws_version, request.ws_protocol) == ("https://a.test", 13, "chat")


def test_no_key_is_needed_and_deflate_is_negotiated():
    request, transport = h3_request(sec_websocket_extensions="permessage-deflate; client_max_window_bits")
    H3Handshaker(request, Hooks()).do_handshake()
    fields = dict(transport.headers[0][0])
    assert fields[b"sec-websocket-extensions"].startswith(b"permessage-deflate")


def test_a_method_other_than_connect_is_refused():
    request, _ = h3_request(method="GET")
    with pytest.raises(HandshakeException, match="CONNECT"):
        H3Handshaker(request, Hooks()).do_handshake()


def test_a_wrong_version_is_refused():
    request, _ = h3_request()
    request.headers_in = Headers([("sec-websocket-version", "8")])
    with pytest.raises(VersionException):
        H3Handshaker(request, Hooks()).do_handshake()


# -- the certificate ----------------------------------------------------------------


def test_the_certificate_is_what_chromium_takes_over_quic(tmp_path):
    cert_path, key_path = certificate.write_certificate(str(tmp_path), ["localhost", "127.0.0.1", "example.test"])
    cert = x509.load_pem_x509_certificate(open(cert_path, "rb").read())
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
    assert cert.public_key().curve.name == "secp256r1"
    assert cert.not_valid_after_utc - cert.not_valid_before_utc < datetime.timedelta(days=14)
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost", "example.test"]
    assert [str(a) for a in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert oct((tmp_path / "h3-key.pem").stat().st_mode & 0o777) == "0o600"


def test_the_spki_hash_is_the_one_openssl_computes(tmp_path):
    cert_path, _ = certificate.write_certificate(str(tmp_path), ["localhost"])
    public = subprocess.run(["openssl", "x509", "-in", cert_path, "-noout", "-pubkey"], capture_output=True, check=True)
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"], input=public.stdout, capture_output=True)
    expected = base64.b64encode(hashlib.sha256(der.stdout).digest()).decode()
    assert certificate.spki_hash(open(cert_path, "rb").read()) == expected


# -- the settings -------------------------------------------------------------------


def test_http3_settings_are_in_the_table():
    values = settings.from_environment({"WS_H3": "off", "WS_LISTEN_H3": "127.0.0.1:9443"})
    assert values["h3"] is False and values["listen_h3"] == "127.0.0.1:9443"
    defaults = settings.from_environment({})
    assert defaults["h3"] is True and defaults["listen_h3"] == "443"
    with pytest.raises(settings.SettingError, match="WS_LISTEN_H3"):
        settings.from_environment({"WS_LISTEN_H3": "udp"})
