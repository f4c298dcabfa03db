"""web-platform-tests' HTTP/3 WebSocket server, as an embedder of this package (RFC 9220).

WPT's ``tools/websocket/h3`` server runs pywebsocket3 handlers itself: its own request
object, a ``HandshakerBase`` subclass that fills ``status`` and ``headers_out``,
``dispatch.Dispatcher(root, None, False)``, ``get_handler_suite`` and
``transfer_data`` on a thread whose ``connection.read(n)`` blocks on a pipe.
``tests/wpt_h3_embedder.py`` is a server of that shape, started in-process on
aioquic, importing the package through the ``pywebsocket3`` names; the handlers are
the WPT-style ones of ``wpt_handlers``, and an HTTP/3 client asserts what WPT's
WebSocket tests assert (``?wpt_flags=h3``).
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest

from mod_pywebsocket.adapters.h3.certificate import write_certificate
from mod_pywebsocket.runtime import compat

from .. import wpt_h3_embedder as embedder
from ..h3client import H3Connection, H3WebSocket, WebSocketClosed

pytestmark = pytest.mark.integration

WPT_HANDLERS = Path(__file__).parent / "wpt_handlers"
TIMEOUT = 5.0  # every wait of the client, and for a handler's thread to end
WPT_65K = 65_000  # WPT's Send-65K-data and Send-binary-65K-arraybuffer
CLOSE, TEXT, BINARY = 0x8, 0x1, 0x2


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    cert, key = write_certificate(str(tmp_path_factory.mktemp("wpt-h3-cert")), ["localhost", "127.0.0.1"])
    server = embedder.EmbeddingH3Server(str(WPT_HANDLERS), cert, key)
    server.start()
    yield server
    server.stop()
    alive = [s.path for s in server.sessions if s.handler_thread is not None and s.handler_thread.is_alive()]
    assert not alive, f"handler threads still running after stop: {alive}"


@pytest.fixture
def h3(server):
    """A QUIC connection of its own per test; once it is closed, every stream it opened
    must have finished on the server (its handler returned or raised, no thread hangs)."""
    first = len(server.sessions)
    conn = H3Connection("127.0.0.1", server.port, timeout=TIMEOUT)
    yield conn
    conn.close()
    hanging = [s.path for s in server.sessions[first:] if not s.finished.wait(TIMEOUT)]
    assert not hanging, f"streams still being served after the connection closed: {hanging}"


def session_of(server, ws: H3WebSocket) -> embedder.Session:
    """The server's side of a client's stream (the latest session on that stream id)."""
    for session in reversed(server.sessions):
        if session.stream_id == ws.stream_id:
            return session
    raise LookupError(f"no session for stream {ws.stream_id}")


def connect_raw(conn: H3Connection, path: str, fields: list[tuple[str, str]]) -> H3WebSocket:
    """An extended CONNECT with exactly these regular fields (no Sec-WebSocket-Version added)."""
    headers = [(":method", "CONNECT"), (":protocol", "websocket"), (":scheme", "https"), (":path", path)]
    headers += [(":authority", conn.authority), *fields]
    stream_id = conn._request(headers, end_stream=False)
    conn.wait(lambda: stream_id in conn.headers or stream_id in conn.resets or stream_id in conn.ended)
    return H3WebSocket(conn, stream_id, conn.headers.get(stream_id, {}))


def close_body(code: int, reason: str = "") -> bytes:
    return struct.pack("!H", code) + reason.encode("utf-8")


def ends_cleanly(ws: H3WebSocket) -> None:
    """The server's side of the stream ended with FIN (the embedder's empty DATA with
    end_stream), not with RESET_STREAM."""
    ws.conn.wait(lambda: ws.ended or ws.was_reset)
    assert ws.ended and not ws.was_reset


# -- the embedding --------------------------------------------------------------------


def test_the_pywebsocket3_names_are_this_package():
    import pywebsocket3
    from pywebsocket3 import common, dispatch
    from pywebsocket3.handshake import base

    import mod_pywebsocket
    from mod_pywebsocket import common as our_common
    from mod_pywebsocket import dispatch as our_dispatch
    from mod_pywebsocket.handshake import base as our_base

    assert pywebsocket3 is mod_pywebsocket
    assert (common, dispatch, base) == (our_common, our_dispatch, our_base)
    assert embedder.HandshakerBase is our_base.HandshakerBase
    for name in ("AbortedByUserException", "HandshakeException", "get_mandatory_header", "validate_mandatory_header"):
        assert getattr(embedder, name) is getattr(our_base, name)


def test_extended_connect_is_answered_200_from_status_and_headers_out(server, h3):
    assert h3.connect_protocol_enabled
    ws = h3.open_websocket("/echo?wpt=1", [("origin", "https://web-platform.test:8443")])
    assert ws.status == 200
    assert "sec-websocket-accept" not in ws.headers
    assert "sec-websocket-protocol" not in ws.headers and "sec-websocket-extensions" not in ws.headers
    session = session_of(server, ws)
    request = session.request
    assert session.handshake_result == "200"
    assert request.status == 200 and request.headers_out == {}
    assert request._dispatcher is session.dispatcher
    assert (request.ws_resource, request.uri, request.unparsed_uri) == ("/echo?wpt=1",) * 3
    assert (request.method, request.protocol, request.ws_version) == ("CONNECT", "HTTP/3", 13)
    assert request.ws_origin == "https://web-platform.test:8443"
    assert request.ws_requested_protocols is None and request.ws_protocol is None
    ws.send("still open")
    assert ws.recv() == "still open"


def test_the_handshake_looks_headers_up_by_lower_case_name(server, h3):
    """WPT's headers_in is a plain dict of lower-case names: the package must ask it for
    names as ``_transform_header`` gives them (the embedder's mapping records lookups)."""
    ws = h3.open_websocket("/echo", [("sec-websocket-protocol", "chat"), ("origin", "https://a.test")])
    assert ws.status == 400  # the echo handler chooses no subprotocol: HandshakeException
    ws = h3.open_websocket("/echo", [("sec-websocket-extensions", "permessage-deflate"), ("origin", "https://a.test")])
    assert ws.status == 200
    looked_up = [name for s in server.sessions[-2:] for name in s.request.headers_in.lookups]
    assert {"sec-websocket-version", "origin", "sec-websocket-protocol", "sec-websocket-extensions"} <= set(looked_up)
    assert [name for name in looked_up if name != name.lower()] == []


# -- messages (WPT's Send-* tests) -------------------------------------------------------


@pytest.mark.parametrize(
    "message",
    [
        "Message to send",
        "¥€𝄞 unicode: three, then four UTF-8 bytes",
        b"\x00\x01\xfe\xff binary",
        "",
        b"",
        "x" * WPT_65K,
        bytes(range(256)) * (WPT_65K // 256) + b"\x00" * (WPT_65K % 256),
    ],
    ids=["text", "unicode", "binary", "empty-text", "empty-binary", "65K-text", "65K-binary"],
)
def test_echo(h3, message):
    ws = h3.open_websocket("/echo")
    assert ws.status == 200
    ws.send(message)
    assert ws.recv() == message
    assert ws.close(1000, "done") == (1000, "done")
    ends_cleanly(ws)


def test_messages_back_to_back_keep_their_order(h3):
    """Two 65,000-byte messages overflow the 64 KiB pipe between the event loop and the
    handler's reads while the handler is writing its echo."""
    messages = ["first", b"\x01" * WPT_65K, "x" * WPT_65K, b"", "last"]
    ws = h3.open_websocket("/echo")
    for message in messages:
        ws.send(message)
    assert [ws.recv() for _ in messages] == messages
    ws.send("Goodbye")  # the echo handler returns after echoing it: the server closes
    assert ws.recv() == "Goodbye"
    with pytest.raises(WebSocketClosed) as closed:
        ws.recv()
    assert (closed.value.code, closed.value.reason) == (1000, "")
    ws.close(1000)
    ends_cleanly(ws)


def test_empty_messages_from_the_handler(h3):
    ws = h3.open_websocket("/empty_message")
    assert ws.recv() == ""
    assert ws.recv() == b""
    ws.send("")
    assert ws.recv() == "text:0"
    ws.send(b"")
    assert ws.recv() == "binary:0"
    ws.close(1000)
    ends_cleanly(ws)


# -- closing (WPT's Close-* and server-initiated close tests) -----------------------------


@pytest.mark.parametrize(
    ("code", "reason"),
    [(1000, "Clean Close"), (3000, ""), (4999, "r" * 123), (1000, "¥€𝄞")],
    ids=["1000-reason", "3000", "4999-123-byte-reason", "unicode-reason"],
)
def test_client_initiated_close_with_code_and_reason(server, h3, code, reason):
    ws = h3.open_websocket("/echo")
    ws.send("before the close")
    assert ws.recv() == "before the close"
    assert ws.close(code, reason) == (code, reason)  # echo's passive-close hook echoes them
    ends_cleanly(ws)
    session = session_of(server, ws)
    assert session.finished.wait(TIMEOUT)
    assert session.outcome == "returned"
    assert (session.request.ws_close_code, session.request.ws_close_reason) == (code, reason)
    assert session.request.client_terminated and session.request.server_terminated


def test_client_close_without_a_code_is_answered_with_an_empty_close(server, h3):
    ws = h3.open_websocket("/echo")
    ws.send_frame(CLOSE, b"")
    frame = ws.recv_frame()
    assert (frame.opcode, frame.payload) == (CLOSE, b"")
    ends_cleanly(ws)


@pytest.mark.parametrize(
    ("query", "expected"),
    [("?code=3001&reason=server%20bye", (3001, "server bye")), ("?code=1000", (1000, "")), ("", (1005, ""))],
    ids=["code-and-reason", "code", "empty-close"],
)
def test_server_initiated_close(server, h3, query, expected):
    ws = h3.open_websocket("/remote_close" + query)
    assert ws.status == 200
    with pytest.raises(WebSocketClosed) as closed:
        ws.recv()
    assert (closed.value.code, closed.value.reason) == expected
    ws.close(3333, "client reply")
    ends_cleanly(ws)
    session = session_of(server, ws)
    assert session.finished.wait(TIMEOUT)
    assert session.outcome == "returned"
    assert session.request.ws_remote_close == (3333, "client reply")  # the handler saw our reply


def test_aborted_by_user_ends_the_stream_without_a_close_frame(server, h3):
    ws = h3.open_websocket("/abort_transfer")
    assert ws.recv() == "about to abort"
    ws.send("go on")
    with pytest.raises(ConnectionError, match="the stream ended"):
        ws.recv_frame()
    assert ws.close_received is None  # no WebSocket close frame came
    assert ws.ended and not ws.was_reset
    session = session_of(server, ws)
    assert session.finished.wait(TIMEOUT)
    assert session.outcome == "AbortedByUserException"  # transfer_data re-raised it to the embedder
    other = h3.open_websocket("/echo")  # the connection still serves
    other.send("served on")
    assert other.recv() == "served on"


# -- refusals ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/no_such_handler", "/no_such_handler?x=1", "/wpt_handlers/echo"])
def test_a_resource_without_a_handler_gets_404(server, h3, path):
    ws = h3.open_websocket(path)
    assert ws.status == 404
    ends_cleanly(ws)
    session = session_of(server, ws)
    assert session.handshake_result == "404" and session.handler_thread is None


@pytest.mark.parametrize(
    "fields",
    [[], [("sec-websocket-version", "8")], [("sec-websocket-version", "13"), ("sec-websocket-version", "8")]],
    ids=["missing", "8", "13-and-8"],
)
def test_an_unsupported_version_is_refused_426(server, h3, fields):
    """HandshakeException.status (a VersionException here): 426, RFC 6455 4.2.2's answer.
    pywebsocket3 differs: HandshakeException without a status (400) for a missing
    header and 400 for "13, 8"; for "8" a VersionException that is no HandshakeException."""
    ws = connect_raw(h3, "/echo", fields)
    assert ws.status == 426
    ends_cleanly(ws)
    assert session_of(server, ws).handshake_result == "VersionException"


@pytest.mark.parametrize("fields", [[], [("sec-websocket-version", "8")]], ids=["missing", "8"])
def test_pywebsocket3_profile_refuses_an_unsupported_version_400(server, h3, monkeypatch, fields):
    monkeypatch.setattr(compat, "_active", compat.PYWEBSOCKET3)
    ws = connect_raw(h3, "/echo", fields)
    assert ws.status == 400


def test_an_empty_extensions_header_is_no_offer(server, h3):
    ws = h3.open_websocket("/echo", [("sec-websocket-extensions", "")])
    assert ws.status == 200


# -- subprotocols and permessage-deflate through headers_out ------------------------------


def test_subprotocol_is_negotiated_through_headers_out(server, h3):
    ws = h3.open_websocket("/protocol?mode=first", [("sec-websocket-protocol", "chat, superchat")])
    assert ws.status == 200
    assert ws.headers["sec-websocket-protocol"] == "chat"
    assert session_of(server, ws).request.headers_out == {"sec-websocket-protocol": "chat"}
    assert ws.recv() == "'chat'"


def test_no_subprotocol_header_when_the_handler_takes_none(server, h3):
    ws = h3.open_websocket("/protocol?mode=none", [("sec-websocket-protocol", "chat")])
    assert ws.status == 200
    assert "sec-websocket-protocol" not in ws.headers
    assert ws.recv() == "None"


def test_an_unrequested_subprotocol_is_a_handshake_exception(server, h3):
    ws = h3.open_websocket("/protocol?mode=unrequested")
    assert ws.status == 400
    ends_cleanly(ws)
    assert session_of(server, ws).handshake_result == "HandshakeException"


def deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-15)
    out = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(b"\x00\x00\xff\xff")
    return out[:-4]


def inflate(payload: bytes) -> bytes:
    return zlib.decompressobj(wbits=-15).decompress(payload + b"\x00\x00\xff\xff")


def test_permessage_deflate_is_negotiated_through_headers_out(server, h3):
    ws = h3.open_websocket("/echo", [("sec-websocket-extensions", "permessage-deflate; client_max_window_bits")])
    assert ws.status == 200
    answer = ws.headers["sec-websocket-extensions"]
    assert answer.split(";")[0].strip() == "permessage-deflate"
    assert session_of(server, ws).request.headers_out == {"sec-websocket-extensions": answer}
    text = "compressible " * 1000
    ws.send_frame(TEXT, deflate(text.encode()), rsv1=True)
    frame = ws.recv_frame()
    assert frame.opcode == TEXT and ws.last_rsv1 and len(frame.payload) < 1000
    assert inflate(frame.payload) == text.encode()
    ws.send_frame(BINARY, deflate(b"\x00" * WPT_65K), rsv1=True)
    frame = ws.recv_frame()
    assert frame.opcode == BINARY and ws.last_rsv1
    assert inflate(frame.payload) == b"\x00" * WPT_65K
    assert ws.close(1000, "deflated") == (1000, "deflated")
    ends_cleanly(ws)


@pytest.mark.parametrize(("profile", "accepted"), [(compat.RFC, True), (compat.PYWEBSOCKET3, False)])
def test_ws_compat_reaches_the_embedders_deflate_negotiation(server, h3, monkeypatch, profile, accepted):
    """docs/migrating.md: permessage-deflate offers with client_no_context_takeover are
    declined under WS_COMPAT=pywebsocket3, with no change on the embedder's side."""
    monkeypatch.setattr(compat, "_active", profile)
    ws = h3.open_websocket("/echo", [("sec-websocket-extensions", "permessage-deflate; client_no_context_takeover")])
    assert ws.status == 200
    assert ("sec-websocket-extensions" in ws.headers) is accepted
    ws.send("plain")
    frame = ws.recv_frame()
    assert ws.last_rsv1 is accepted
    assert (inflate(frame.payload) if accepted else frame.payload) == b"plain"
