"""Coverage-guided fuzz targets (atheris) for the code that reads a client's bytes.

Each target takes one input and must either succeed or raise the documented
error; anything else is a crash that atheris reports with the input that
caused it. ``make fuzz`` runs them; see ``tests/fuzz/run.py``.
"""

from __future__ import annotations

import atheris

with atheris.instrument_imports():
    from mod_pywebsocket import common
    from mod_pywebsocket.adapters.standalone.http_head import HttpError, parse_request_head
    from mod_pywebsocket.core.connection import InvalidState, ServerConnection, State
    from mod_pywebsocket.core.errors import HandshakeException, ProtocolError
    from mod_pywebsocket.core.messages import Close, Message
    from mod_pywebsocket.extensions import PerMessageDeflate
    from mod_pywebsocket.handshake.base import parse_client_handshake

_CODES = {common.STATUS_PROTOCOL_ERROR, common.STATUS_INVALID_FRAME_PAYLOAD_DATA, common.STATUS_MESSAGE_TOO_BIG}


def frames(data: bytes) -> None:
    """The production connection core (``ServerConnection``): bytes in, events out; with
    permessage-deflate when the first byte is odd. A protocol error must give a close
    that fails the connection with its code, and nothing may be sent after it."""
    if not data:
        return
    core = ServerConnection(
        max_message_size=4096,
        require_mask=bool(data[0] & 2),
        deflate=PerMessageDeflate() if data[0] & 1 else None,
    )
    step = (data[0] >> 2) + 1
    try:
        for i in range(1, len(data), step):
            core.receive_data(data[i : i + step])
            while (event := core.next_event()) is not None:
                if isinstance(event, Close):
                    core.send_close(None)
                    assert core.state is State.CLOSED
                    return
                if isinstance(event, Message):
                    core.send_message(event.data.encode() if isinstance(event.data, str) else event.data, True)
    except ProtocolError as e:
        if e.code not in _CODES:
            raise
        close = core.data_to_send()  # the core failed itself: its close, once
        assert close.startswith(b"\x88") and close[2:4] == e.code.to_bytes(2, "big")
        assert core.data_to_send() == b"" and core.state is State.CLOSED
        try:
            core.send_message(b"after the failure", True)
        except InvalidState:
            return
        raise AssertionError("a data frame after a failed connection's close") from None


def handshake(data: bytes) -> None:
    """HTTP request head parsing, then the production handshaker's checks (``hybi.Handshaker``)."""
    try:
        head = parse_request_head(data)
    except HttpError as e:
        if e.status not in (400, 414, 431):
            raise
        return
    try:
        parse_client_handshake(head.method, head.version, head.headers)
    except HandshakeException as e:
        if e.status not in (400, 426):
            raise


def extensions(data: bytes) -> None:
    """Sec-WebSocket-Extensions and token-list parsing."""
    text = data.decode("latin-1")
    try:
        common.parse_extensions(text)
    except common.ExtensionParsingException:
        pass
    try:
        common.parse_token_list(text)
    except ValueError:
        pass


TARGETS = {"frames": frames, "handshake": handshake, "extensions": extensions}
