"""One close rule both ways: what we send is what we accept (frames.Close.check)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mod_pywebsocket import common
from mod_pywebsocket.core.connection import ServerConnection
from mod_pywebsocket.core.errors import BadOperationException, ProtocolError
from mod_pywebsocket.core.frames import Close, is_valid_close_code
from mod_pywebsocket.stream import create_closing_handshake_body


@given(st.integers(0, 70000), st.text(max_size=130))
def test_a_close_can_be_sent_exactly_when_a_peer_may_send_it(code, reason):
    """For every code and reason: sending is refused if and only if receiving the same
    body fails the peer, and a close that goes out parses back to itself."""
    body = code.to_bytes(2, "big") + reason.encode() if code < 65536 else b""
    try:
        received = Close.parse(body) if code < 65536 else None
    except ProtocolError:
        received = None
    try:
        sent = Close.to_send(code, reason)
    except ValueError:
        sent = None
    assert (sent is None) == (received is None)
    if sent is not None:
        assert Close.parse(sent.serialize()) == received


@pytest.mark.parametrize("code", [1004, 1016, 2000, 2999, 1100])
def test_a_handler_asking_for_a_code_we_would_fail_gets_a_clear_error(code):
    with pytest.raises(BadOperationException, match=f"status code {code} cannot be sent.*1002"):
        ServerConnection().send_close(code)


def test_pywebsocket3s_profile_sends_what_pywebsocket3_sent():
    """pywebsocket3 let handlers send 1000-4999 but 1005, 1006 and 1015; so does its profile."""
    core = ServerConnection(pywebsocket3_rules=True)
    assert core.send_close(2000)[2:4] == (2000).to_bytes(2, "big")
    with pytest.raises(BadOperationException):
        ServerConnection(pywebsocket3_rules=True).send_close(1006)
    assert create_closing_handshake_body(1004, "x") == b"\x03\xecx"
    assert create_closing_handshake_body(None, "ignored") == b""
    with pytest.raises(BadOperationException):
        create_closing_handshake_body(1015, "")


def test_the_empty_close_and_its_report_code():
    empty = Close.parse(b"")
    assert (empty.code, empty.reason, empty.serialize()) == (common.STATUS_NO_STATUS_RECEIVED, None, b"")
    assert Close.to_send(None) == empty
    with pytest.raises(ValueError):
        Close.to_send(common.STATUS_NO_STATUS_RECEIVED)
    with pytest.raises(ValueError):
        Close.to_send(None, "a reason needs a code")
    assert not is_valid_close_code(common.STATUS_NO_STATUS_RECEIVED)


def test_a_stopping_servers_close_wins_and_refuses_sends():
    core = ServerConnection()
    core.stop_sending(1001, "going away")
    with pytest.raises(BadOperationException):
        core.send_message(b"x", binary=True)
    frame = core.send_close(1000, "the handler's")
    assert frame[2:] == (1001).to_bytes(2, "big") + b"going away"
