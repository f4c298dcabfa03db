"""Coverage-guided fuzz targets (atheris) for the code that reads a client's bytes.

Each target takes one input and must either succeed or raise the documented
error; anything else is a crash that atheris reports with the input that
caused it. ``make fuzz`` runs them; see ``tests/fuzz/run.py``.
"""

from __future__ import annotations

import atheris

with atheris.instrument_imports():
    from mod_pywebsocket import common
    from mod_pywebsocket.errors import HandshakeException, ProtocolError
    from mod_pywebsocket.extensions import PerMessageDeflate
    from mod_pywebsocket.framing import FrameParser
    from mod_pywebsocket.handshake.base import parse_client_handshake
    from mod_pywebsocket.http import HttpError, parse_request_head
    from mod_pywebsocket.protocol import Close, MessageAssembler

_CODES = {common.STATUS_PROTOCOL_ERROR, common.STATUS_INVALID_FRAME_PAYLOAD_DATA, common.STATUS_MESSAGE_TOO_BIG}


def frames(data: bytes) -> None:
    """Frame parser + message assembler (with permessage-deflate when the first byte is odd)."""
    if not data:
        return
    parser = FrameParser(require_mask=bool(data[0] & 2), max_payload=4096)
    assembler = MessageAssembler(4096)
    if data[0] & 1:
        parser.allow_rsv1 = True
        assembler.inflate = PerMessageDeflate().decompress
    step = (data[0] >> 2) + 1
    try:
        for i in range(1, len(data), step):
            parser.feed(data[i : i + step])
            while (frame := parser.next_frame()) is not None:
                if isinstance(assembler.process(frame), Close):
                    return
    except ProtocolError as e:
        if e.code not in _CODES:
            raise


def handshake(data: bytes) -> None:
    """HTTP request head parsing, then opening-handshake validation."""
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
