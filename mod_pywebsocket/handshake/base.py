"""The opening handshake as pure functions (RFC 6455 section 4.2).

``parse_client_handshake`` checks a request's method, version and headers and
returns what the server needs; ``build_response`` makes the 101 bytes. No I/O:
the adapters feed in what their HTTP layer parsed and write what comes out.
Repeated header lines are expected to arrive merged with ", " (as Apache and the
standalone server do), so a duplicated key or version shows up as a bad value.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from typing import Any

from .. import common
from ..errors import HandshakeException, VersionException

WEBSOCKET_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_KEY_RE = re.compile(r"[A-Za-z0-9+/]{21}[AQgw]==")


def compute_accept(key: bytes | str) -> bytes:
    """Sec-WebSocket-Accept (ASCII bytes) for a Sec-WebSocket-Key."""
    if isinstance(key, str):
        key = key.encode("ascii")
    return base64.b64encode(hashlib.sha1(key + WEBSOCKET_GUID).digest())


def get_mandatory_header(headers: Any, name: str) -> str:
    value = headers.get(name)
    if value is None:
        raise HandshakeException(f"header {name} is not defined")
    return value


def validate_mandatory_header(headers: Any, name: str, expected: str, fail_status: int | None = None) -> None:
    value = get_mandatory_header(headers, name)
    if value.lower() != expected.lower():
        raise HandshakeException(f"expected {expected!r} for header {name} but found {value!r}", status=fail_status)


def has_token(value: str | None, token: str) -> bool:
    """Whether a comma-separated header value holds ``token`` (case-insensitive)."""
    if not value:
        return False
    token = token.lower()
    return any(part.strip(" \t").lower() == token for part in value.split(","))


def is_websocket_upgrade(headers: Any) -> bool:
    """Whether a request asks for a WebSocket at all (the adapters decline anything else)."""
    return has_token(headers.get(common.UPGRADE_HEADER), common.WEBSOCKET_UPGRADE_TYPE)


def validate_subprotocol(subprotocol: str) -> None:
    if not common.is_token(subprotocol):
        raise HandshakeException(f"invalid subprotocol name: {subprotocol!r}")


@dataclass(slots=True)
class ClientHandshake:
    key: str
    version: int
    origin: str | None
    requested_protocols: list[str] | None
    requested_extensions: list[common.ExtensionParameter] | None


def parse_client_handshake(method: str, protocol: str, headers: Any, *, http2: bool = False) -> ClientHandshake:
    """Validate a client's opening handshake; raise HandshakeException with the status to answer.

    ``headers`` needs only a case-insensitive ``get(name)``. ``http2`` relaxes the
    rules RFC 8441 changes (no Connection header, the key is the proxy's own).
    """
    if method != "GET":
        raise HandshakeException(f"method must be GET, not {method!r}")
    if not http2 and protocol != "HTTP/1.1":
        raise HandshakeException(f"protocol must be HTTP/1.1, not {protocol!r}")
    if not http2:
        get_mandatory_header(headers, common.HOST_HEADER)
    if not is_websocket_upgrade(headers):
        raise HandshakeException("Upgrade header does not contain 'websocket'")
    if not http2 and not has_token(headers.get(common.CONNECTION_HEADER), "upgrade"):
        raise HandshakeException("Connection header does not contain 'Upgrade'")

    version = headers.get(common.SEC_WEBSOCKET_VERSION_HEADER)
    if version is None:
        raise VersionException("Sec-WebSocket-Version header is missing")
    if version.strip() != "13":
        raise VersionException(f"unsupported Sec-WebSocket-Version {version!r}")

    key = get_mandatory_header(headers, common.SEC_WEBSOCKET_KEY_HEADER).strip(" \t")
    if not _KEY_RE.fullmatch(key):
        raise HandshakeException(f"Sec-WebSocket-Key is not 16 bytes in base64: {key!r}")
    try:
        base64.b64decode(key, validate=True)
    except binascii.Error:
        raise HandshakeException(f"Sec-WebSocket-Key is not valid base64: {key!r}") from None

    protocols = None
    protocol_header = headers.get(common.SEC_WEBSOCKET_PROTOCOL_HEADER)
    if protocol_header is not None:
        try:
            protocols = common.parse_token_list(protocol_header)
        except ValueError:
            raise HandshakeException(f"invalid Sec-WebSocket-Protocol: {protocol_header!r}") from None

    extensions = None
    extension_header = headers.get(common.SEC_WEBSOCKET_EXTENSIONS_HEADER)
    if extension_header is not None:
        try:
            extensions = common.parse_extensions(extension_header)
        except common.ExtensionParsingException as e:
            raise HandshakeException(f"invalid Sec-WebSocket-Extensions: {e}") from None

    return ClientHandshake(
        key=key,
        version=common.VERSION_HYBI_LATEST,
        origin=headers.get(common.ORIGIN_HEADER),
        requested_protocols=protocols,
        requested_extensions=extensions,
    )


def check_selected_protocol(requested: list[str] | None, selected: str | None) -> None:
    """The subprotocol rules handlers rely on (as pywebsocket enforced them)."""
    if requested is not None:
        if selected is None:
            raise HandshakeException(
                "the client requested subprotocols but web_socket_do_extra_handshake chose none "
                "(set request.ws_protocol, or request.ws_requested_protocols = None)"
            )
        validate_subprotocol(selected)
    elif selected is not None:
        raise HandshakeException("request.ws_protocol is set but the client requested no subprotocol")


def build_response(
    accept: bytes,
    protocol: str | None = None,
    extensions: str | None = None,
    extra_headers: list[tuple[str, str]] | None = None,
) -> bytes:
    """The 101 response. Extra headers are written verbatim: test handlers rely on that."""
    lines = [
        "HTTP/1.1 101 Switching Protocols",
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Accept: " + accept.decode("ascii"),
    ]
    if protocol is not None:
        lines.append(f"{common.SEC_WEBSOCKET_PROTOCOL_HEADER}: {protocol}")
    if extensions:
        lines.append(f"{common.SEC_WEBSOCKET_EXTENSIONS_HEADER}: {extensions}")
    for name, value in extra_headers or ():
        lines.append(f"{name}: {value}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")
