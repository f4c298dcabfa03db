import pytest

from mod_pywebsocket import __version__, common
from mod_pywebsocket.core.errors import AbortedByUserException, HandshakeException, VersionException
from mod_pywebsocket.dispatch import Dispatcher
from mod_pywebsocket.handshake import do_handshake
from mod_pywebsocket.handshake.base import build_response, compute_accept, parse_client_handshake
from mod_pywebsocket.handshake.hybi import compute_accept_from_unicode

from .fakes import make_request


class Headers(dict):
    """Case-insensitive, like mod_python's table and the standalone server's headers."""

    def __init__(self, **kw):
        super().__init__({k.replace("_", "-").lower(): v for k, v in kw.items()})

    def get(self, name, default=None):
        return super().get(name.lower(), default)

    def __getitem__(self, name):
        return super().__getitem__(name.lower())


GOOD = dict(
    Host="example.com",
    Upgrade="websocket",
    Connection="keep-alive, Upgrade",
    Sec_WebSocket_Key="dGhlIHNhbXBsZSBub25jZQ==",
    Sec_WebSocket_Version="13",
)


def headers(**changes):
    values = dict(GOOD)
    for k, v in changes.items():
        if v is None:
            values.pop(k, None)
        else:
            values[k] = v
    return Headers(**values)


def test_rfc_example_accept():
    assert compute_accept(b"dGhlIHNhbXBsZSBub25jZQ==") == b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    assert compute_accept_from_unicode("dGhlIHNhbXBsZSBub25jZQ==") == b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_good_request_parses():
    client = parse_client_handshake(
        "GET",
        "HTTP/1.1",
        headers(
            Origin="http://o.example",
            Sec_WebSocket_Protocol="chat, superchat",
            Sec_WebSocket_Extensions='permessage-deflate; client_max_window_bits, x-foo; a="b"',
        ),
    )
    assert client.origin == "http://o.example"
    assert client.requested_protocols == ["chat", "superchat"]
    assert [e.name() for e in client.requested_extensions] == ["permessage-deflate", "x-foo"]
    assert client.requested_extensions[0].get_parameters() == [("client_max_window_bits", None)]
    assert client.requested_extensions[1].get_parameter_value("a") == "b"


@pytest.mark.parametrize(
    "method, protocol, changes",
    [
        ("POST", "HTTP/1.1", {}),
        ("GET", "HTTP/1.0", {}),
        ("GET", "HTTP/1.1", {"Host": None}),
        ("GET", "HTTP/1.1", {"Upgrade": "h2c"}),
        ("GET", "HTTP/1.1", {"Connection": "keep-alive"}),
        ("GET", "HTTP/1.1", {"Sec_WebSocket_Key": None}),
        ("GET", "HTTP/1.1", {"Sec_WebSocket_Key": "dGhlIHNhbXBsZSBub25jZQ"}),
        ("GET", "HTTP/1.1", {"Sec_WebSocket_Key": "AAAAAAAAAAAAAAAAAAAAAAAA"}),
        ("GET", "HTTP/1.1", {"Sec_WebSocket_Key": "dGhlIHNhbXBsZSBub25jZQ==, dGhlIHNhbXBsZSBub25jZQ=="}),
        ("GET", "HTTP/1.1", {"Sec_WebSocket_Protocol": "a b"}),
        ("GET", "HTTP/1.1", {"Sec_WebSocket_Protocol": "a,,b"}),
        ("GET", "HTTP/1.1", {"Sec_WebSocket_Extensions": "foo; ="}),
        ("GET", "HTTP/1.1", {"Sec_WebSocket_Extensions": 'foo; a="b c"'}),
    ],
)
def test_bad_requests_are_400(method, protocol, changes):
    with pytest.raises(HandshakeException) as info:
        parse_client_handshake(method, protocol, headers(**changes))
    assert info.value.status == 400
    assert not isinstance(info.value, VersionException)


@pytest.mark.parametrize("version", [None, "8", "12", "13, 8", "14"])
def test_bad_version_is_426(version):
    with pytest.raises(VersionException) as info:
        parse_client_handshake("GET", "HTTP/1.1", headers(Sec_WebSocket_Version=version))
    assert info.value.status == 426
    assert info.value.supported_versions == "13"


def test_http2_needs_no_connection_header():
    client = parse_client_handshake("GET", "HTTP/2.0", headers(Connection=None, Host=None), http2=True)
    assert client.version == 13


def test_response_bytes():
    response = build_response(b"abc=", "chat", None, [("X-A", "1"), ("Set-Cookie", "a=b; HttpOnly")])
    assert response == (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: abc=\r\nServer: mod_pywebsocket/" + __version__.encode() + b"\r\n"
        b"Sec-WebSocket-Protocol: chat\r\nX-A: 1\r\nSet-Cookie: a=b; HttpOnly\r\n\r\n"
    )


def write_handler(root, name, body):
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body)


EXTRA = """
from mod_pywebsocket.handshake import AbortedByUserException

def web_socket_do_extra_handshake(request):
    mode = request.ws_resource.partition("?")[2]
    if mode == "reject":
        raise ValueError("no")
    if mode == "abort":
        raise AbortedByUserException("bye")
    if mode == "pick":
        request.ws_protocol = request.ws_requested_protocols[-1]
    if mode == "unrequested":
        request.ws_protocol = "foo"
    if mode == "ignore":
        request.ws_requested_protocols = None
    request.extra_headers.append(("X-Mode", mode))

def web_socket_transfer_data(request):
    pass
"""


@pytest.fixture
def dispatcher(tmp_path):
    write_handler(tmp_path, "h_wsh.py", EXTRA)
    return Dispatcher(str(tmp_path), None, False)


def handshake(dispatcher, query, **changes):
    request = make_request(headers=headers(**changes), uri=f"/h?{query}")
    do_handshake(request, dispatcher)
    return request, bytes(request.connection.written)


def test_do_handshake_writes_101_with_choices(dispatcher):
    request, written = handshake(dispatcher, "pick", Sec_WebSocket_Protocol="a, b")
    assert written.startswith(b"HTTP/1.1 101 Switching Protocols\r\n")
    assert b"Sec-WebSocket-Protocol: b\r\n" in written
    assert b"X-Mode: pick\r\n" in written
    assert request.ws_protocol == "b" and request.ws_stream is not None
    assert request.ws_version == 13 and request.ws_extensions is None


@pytest.mark.parametrize(
    "query, changes, status",
    [
        ("reject", {}, 403),
        ("", {"Sec_WebSocket_Protocol": "a"}, 400),  # offered, none chosen
        ("unrequested", {}, 400),  # chosen, none offered
    ],
)
def test_do_handshake_refusals(dispatcher, query, changes, status):
    with pytest.raises(HandshakeException) as info:
        handshake(dispatcher, query, **changes)
    assert info.value.status == status


def test_do_handshake_ignore_requested_protocols_and_abort(dispatcher):
    _, written = handshake(dispatcher, "ignore", Sec_WebSocket_Protocol="a")
    assert b"Sec-WebSocket-Protocol" not in written
    with pytest.raises(AbortedByUserException):
        handshake(dispatcher, "abort")


def test_extension_formatting_round_trip():
    text = "permessage-deflate; client_max_window_bits; server_max_window_bits=10, x"
    assert common.format_extensions(common.parse_extensions(text)) == text


def test_an_empty_extensions_header_is_no_offer(dispatcher):
    """pywebsocket3 took an empty Sec-WebSocket-Extensions as no offer (found by the
    WPT-style HTTP/3 embedding test: it answered 400)."""
    request, written = handshake(dispatcher, "", Sec_WebSocket_Extensions="")
    assert written.startswith(b"HTTP/1.1 101 ")
    assert request.ws_requested_extensions is None and request.ws_extensions is None


@pytest.mark.parametrize("profile, status", [("rfc", 426), ("pywebsocket3", 400)])
def test_an_embedder_gets_the_profiles_version_status(dispatcher, profile, status):
    """An embedder that runs the handshake itself (wptserve, WPT's HTTP/3 server) answers
    ``e.status``: the profile's, as the package's own servers answer."""
    from mod_pywebsocket.runtime import compat

    compat.configure(profile)
    try:
        with pytest.raises(VersionException) as info:
            handshake(dispatcher, "", Sec_WebSocket_Version="8")
        assert info.value.status == status
    finally:
        compat.configure("rfc")
