"""The two profiles, side by side with the real pywebsocket3: where pywebsocket3 and the RFCs
differ, ``WS_COMPAT=pywebsocket3`` gives pywebsocket3's answer and the default gives the
RFC's; handlers that use pywebsocket3's internals work under both.

Every row runs on Apache and the standalone server in both profiles, and on the real
pywebsocket3 4.0.2 (PyPI, a throwaway venv): the pywebsocket3 column is measured, not
written down. The handlers are tests/integration/compat_handlers, written here in the
style of browser vendors' own.
"""

from __future__ import annotations

import pytest
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory
from websockets.sync.client import connect

from ..servers import ROOT, Pywebsocket3, make_pywebsocket3_venv, start_server
from .rawhttp import RawWebSocket, build_request, send_raw

pytestmark = pytest.mark.integration

HANDLERS = ROOT / "tests" / "integration" / "compat_handlers"
TEXT, BINARY, CLOSE, PING, PONG = 1, 2, 8, 9, 10
# (server, profile): the profile the answers must follow.
TARGETS = [
    ("apache", "rfc"),
    ("apache", "pywebsocket3"),
    ("standalone", "rfc"),
    ("standalone", "pywebsocket3"),
    ("reference", "pywebsocket3"),
]


@pytest.fixture(scope="module")
def pywebsocket3_python(tmp_path_factory):
    return make_pywebsocket3_venv(tmp_path_factory.mktemp("pywebsocket3"))


@pytest.fixture(scope="module", params=TARGETS, ids=lambda t: f"{t[0]}-{t[1]}")
def target(request, tmp_path_factory):
    kind, profile = request.param
    tmp = tmp_path_factory.mktemp(f"compat-{kind}-{profile}")
    if kind == "reference":
        server = Pywebsocket3(request.getfixturevalue("pywebsocket3_python"), HANDLERS, tmp)
    else:
        server = start_server(kind, HANDLERS, tmp, {"WS_COMPAT": profile} if profile != "rfc" else {})
    yield server, profile
    server.stop()


def raw(server) -> RawWebSocket:
    return RawWebSocket(server.open_socket("ws"))


def opened(server, path: str = "/echo", **changes) -> RawWebSocket:
    client = raw(server)
    response = client.handshake(path, **changes)
    assert response.status == 101, response.raw
    return client


def close_code(payload: bytes) -> int | None:
    return int.from_bytes(payload[:2], "big") if len(payload) >= 2 else None


def pick(profile: str, rfc, pywebsocket3):
    return rfc if profile == "rfc" else pywebsocket3


def test_reply_to_a_clients_close(target):
    server, profile = target
    client = opened(server)
    client.send_frame(CLOSE, (4001).to_bytes(2, "big") + b"bye")
    opcode, payload = client.read_frame()
    assert (opcode, close_code(payload)) == (CLOSE, pick(profile, 4001, 1000))
    client = opened(server)
    client.send_frame(CLOSE)  # no code
    opcode, payload = client.read_frame()
    assert (opcode, close_code(payload)) == (CLOSE, pick(profile, None, 1000))


def closes_cleanly_with(client: RawWebSocket, code: int) -> None:
    """A close with ``code``, then the server waits for the client's reply before it ends
    TCP (so the browser sees a clean close), then it ends TCP."""
    opcode, payload = client.read_frame()
    assert (opcode, close_code(payload)) == (CLOSE, code)
    client.sock.settimeout(0.3)
    with pytest.raises(TimeoutError):  # still open, waiting for the reply
        client.sock.recv(1)
    client.sock.settimeout(10)
    client.send_frame(CLOSE, (1000).to_bytes(2, "big"))
    assert client.read_frame() is None


def test_handler_exception(target):
    server, profile = target
    client = opened(server, "/raise")
    client.send_frame(TEXT, b"go")
    if profile == "rfc":
        closes_cleanly_with(client, 1011)
    else:
        assert client.read_frame() is None  # TCP dropped: the browser reports 1006


def test_bad_operation_closes_with_1011_and_waits_for_the_reply(target):
    server, _ = target
    client = opened(server, "/bad_operation")
    client.send_frame(TEXT, b"text sent as binary")
    closes_cleanly_with(client, 1011)


@pytest.mark.parametrize(
    "path, changes, rfc, pywebsocket3",
    [
        ("/broken", {}, 500, 404),
        ("/echo", {"Sec-WebSocket-Version": "8"}, 426, 400),
    ],
    ids=["broken-handler", "wrong-version"],
)
def test_refusals(target, path, changes, rfc, pywebsocket3):
    server, profile = target
    with server.open_socket("ws") as sock:
        response = send_raw(sock, build_request(path, **changes))
    assert response.status == pick(profile, rfc, pywebsocket3)
    if changes:
        assert response.header("sec-websocket-version") == "13"


def test_plain_get_to_a_handler(target):
    server, profile = target
    with server.open_socket("ws") as sock:
        sock.sendall(b"GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        response = send_raw(sock, b"")
    assert response.status == pick(profile, 426, 400)


@pytest.mark.parametrize(
    "frames, rfc, pywebsocket3",
    [
        ([(0x20 | TEXT, b"x")], 1002, 1003),  # RSV2 set
        ([(0x03, b"x")], 1002, 1003),  # a reserved opcode
        ([(CLOSE, (999).to_bytes(2, "big"))], 1002, 1000),  # an invalid close code
        ([(CLOSE, (1000).to_bytes(2, "big") + b"\xff")], 1007, 1000),  # a reason that is not UTF-8
    ],
    ids=["rsv2", "reserved-opcode", "close-999", "close-reason-not-utf8"],
)
def test_frames_the_rfc_forbids(target, frames, rfc, pywebsocket3):
    server, profile = target
    client = opened(server)
    for first_byte, payload in frames:
        client.sock.sendall(_masked(first_byte | 0x80, payload))
    opcode, payload = _next_close(client)
    assert (opcode, close_code(payload)) == (CLOSE, pick(profile, rfc, pywebsocket3))


def test_ping_between_fragments(target):
    server, profile = target
    client = opened(server)
    client.send_frame(TEXT, b"frag", fin=False)
    client.send_frame(PING, b"p")
    if profile == "rfc":
        assert client.read_frame() == (PONG, b"p")
        client.send_frame(0, b"ment")
        assert client.read_frame() == (TEXT, b"fragment")
    else:
        opcode, payload = client.read_frame()
        assert (opcode, close_code(payload)) == (CLOSE, 1002)


def test_deflate_offers(target):
    server, profile = target
    for offer, rfc, pywebsocket3 in [
        ("permessage-deflate; client_max_window_bits", "permessage-deflate", "permessage-deflate"),
        (
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=10",
            "permessage-deflate; server_max_window_bits=10; server_no_context_takeover",
            "permessage-deflate; server_max_window_bits=10; server_no_context_takeover",
        ),
        ("permessage-deflate; client_max_window_bits=10", "permessage-deflate", None),
        ("permessage-deflate; client_no_context_takeover", "permessage-deflate; client_no_context_takeover", None),
    ]:
        client = raw(server)
        response = client.handshake("/echo", **{"Sec-WebSocket-Extensions": offer})
        client.sock.close()
        assert response.status == 101
        assert response.header("sec-websocket-extensions") == pick(profile, rfc, pywebsocket3), offer


def test_connection_write_of_text(target):
    server, profile = target
    with server.open_socket("ws") as sock:
        response = send_raw(sock, build_request("/write_text"))
    assert response.status == pick(profile, 200, 403)


# -- close handshakes a handler takes part in ----------------------------------------------


@pytest.mark.parametrize("reply", [1000, 999], ids=["reply-1000", "reply-999"])
def test_a_close_the_handler_wrote_itself_is_not_followed_by_ours(target, reply):
    """Whatever the client's reply says (Chromium echoes an invalid code it was sent)."""
    server, _ = target
    client = opened(server, "/raw_close")
    assert client.read_frame() == (CLOSE, (4001).to_bytes(2, "big") + b"raw")
    client.send_frame(CLOSE, reply.to_bytes(2, "big"))
    assert client.read_frame() is None  # the connection ends; no second close


def test_a_hook_that_asks_for_an_unsendable_close(target):
    """rfc: the nearest sendable close (Autobahn 7.3.1: empty or 1000 after an empty close);
    pywebsocket3: 1011."""
    server, profile = target
    client = opened(server, "/echo_hook")
    client.send_frame(CLOSE)  # empty: the hook answers (1005, None)
    opcode, payload = client.read_frame()
    assert (opcode, close_code(payload)) == (CLOSE, pick(profile, None, 1011))
    client = opened(server, "/echo_hook")
    client.send_frame(CLOSE, (3000).to_bytes(2, "big") + b"fine")
    assert client.read_frame() == (CLOSE, (3000).to_bytes(2, "big") + b"fine")


# -- the internals browser vendors' handlers use work in both profiles ---------------------


def test_raw_frame_read_of_a_pong(target):
    server, _ = target
    with connect(server.url("ws", "/read_pong"), open_timeout=10) as conn:
        assert conn.recv(timeout=10) == "PASS"


def test_deflate_by_hand(target):
    server, profile = target
    deflate = ClientPerMessageDeflateFactory(client_max_window_bits=True)
    with connect(server.url("ws", "/inflate_by_hand"), extensions=[deflate], open_timeout=10) as conn:
        assert "permessage-deflate" in conn.response.headers["Sec-WebSocket-Extensions"]
        for text in ("hello", "x" * 5000, "héllo"):
            conn.send(text)
            assert conn.recv(timeout=10) == f"deflated:{text}"
        conn.close(4002)
    assert conn.protocol.close_rcvd.code == pick(profile, 4002, 1000)


def test_extension_processor_of_the_handlers_own(target):
    server, _ = target
    client = raw(server)
    response = client.handshake("/own_extension", **{"Sec-WebSocket-Extensions": "x-upper"})
    assert response.status == 101 and response.header("sec-websocket-extensions") == "x-upper"
    client.send_frame(TEXT, b"shout")
    assert client.read_frame() == (BINARY, b"x-upper:SHOUT")


def _masked(first_byte: int, payload: bytes) -> bytes:
    key = b"\x01\x02\x03\x04"
    masked = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return bytes((first_byte, 0x80 | len(payload))) + key + masked


def _next_close(client: RawWebSocket) -> tuple[int, bytes]:
    while (frame := client.read_frame()) is not None:
        if frame[0] == CLOSE:
            return frame
    raise AssertionError("the connection ended without a close frame")
