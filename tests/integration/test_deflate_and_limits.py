"""permessage-deflate with a real client, and the message size limit (close 1009)."""

from __future__ import annotations

import os
import zlib

import pytest
from websockets.exceptions import ConnectionClosedError

from mod_pywebsocket.core.frames import build_frame

from .conftest import TESTBED_MAX_MESSAGE_SIZE
from .rawhttp import build_request, send_raw
from .test_websocket import ws_connect

pytestmark = pytest.mark.integration


def test_permessage_deflate_negotiated_and_used(examples, scheme):
    with ws_connect(examples, scheme, "/echo", compression="deflate") as ws:
        assert [e.name for e in ws.protocol.extensions] == ["permessage-deflate"]
        for message in ("compressible " * 5000, os.urandom(100000), "", b""):
            ws.send(message)
            assert ws.recv(timeout=20) == message


def test_handler_sees_offers_and_can_refuse_compression(testbed, scheme):
    with ws_connect(testbed, scheme, "/scanned/extensions", compression="deflate") as ws:
        assert ws.recv(timeout=10) == (
            "offered: permessage-deflate; client_max_window_bits | accepted: permessage-deflate"
        )
    with ws_connect(testbed, scheme, "/scanned/noext", compression="deflate") as ws:
        assert ws.protocol.extensions == []
        assert ws.recv(timeout=10) == "None"
        ws.send("x" * 1000)
        assert ws.recv(timeout=10) == "x" * 1000


@pytest.mark.parametrize(
    "offer, response",
    [
        ("permessage-deflate; server_no_context_takeover", "permessage-deflate; server_no_context_takeover"),
        ("permessage-deflate; server_max_window_bits=10", "permessage-deflate; server_max_window_bits=10"),
        ("permessage-deflate; bogus, permessage-deflate", "permessage-deflate"),
        ("permessage-deflate; server_max_window_bits=8", None),
        ("x-webkit-deflate-frame", None),
    ],
)
def test_offers_over_raw_sockets(examples, scheme, offer, response):
    with examples.open_socket(scheme) as sock:
        reply = send_raw(sock, build_request("/echo", Sec_WebSocket_Extensions=offer))
    assert reply.status == 101
    assert reply.header("Sec-WebSocket-Extensions") == response


def test_message_over_the_limit_is_1009(testbed, scheme):
    with ws_connect(testbed, scheme, "/scanned/echo") as ws:
        ws.send(b"x" * TESTBED_MAX_MESSAGE_SIZE)
        assert len(ws.recv(timeout=10)) == TESTBED_MAX_MESSAGE_SIZE
        ws.send(b"x" * (TESTBED_MAX_MESSAGE_SIZE + 1))
        with pytest.raises(ConnectionClosedError) as info:
            ws.recv(timeout=10)
    assert info.value.rcvd.code == 1009


def test_deflate_bomb_is_1009(testbed, scheme):
    """A few KiB on the wire that would inflate to 16 MiB is refused before it expands."""
    bomb = zlib.compressobj(9, zlib.DEFLATED, -15)
    payload = bomb.compress(b"\x00" * (16 << 20)) + bomb.flush(zlib.Z_SYNC_FLUSH)
    with testbed.open_socket(scheme) as sock:
        reply = send_raw(sock, build_request("/scanned/echo", Sec_WebSocket_Extensions="permessage-deflate"))
        assert reply.header("Sec-WebSocket-Extensions") == "permessage-deflate"
        sock.sendall(build_frame(0x2, payload[:-4], rsv1=True, mask=True))
        data = b""
        while len(data) < 4:
            chunk = sock.recv(16)
            if not chunk:
                break
            data += chunk
    assert data[0] == 0x88 and int.from_bytes(data[2:4], "big") == 1009
