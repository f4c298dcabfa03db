"""The opening handshake's rules, with no I/O: RFC 6455 section 4.2 and RFC 8441.

One function per step of the server's checks (``HandshakerBase.check_client_handshake``
runs them in order), the accept key, the subprotocol rule, origins, and
``build_response`` for the 101 bytes. Repeated header lines are expected to arrive
merged with ", " (as Apache and the standalone server do), so a duplicated key or
version shows up as a bad value. Every function takes the request's headers (a
case-insensitive ``get(name)``); pywebsocket's ``get_mandatory_header`` and
``validate_mandatory_header`` also take the request itself.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from typing import Any

from .. import __version__
from . import constants
from .errors import HandshakeException, VersionException
from .headers import ExtensionParameter, ExtensionParsingException, is_token, parse_extensions
from .headers import parse_token_list as parse_tokens

SERVER_TOKEN = f"mod_pywebsocket/{__version__}"
WEBSOCKET_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_KEY_RE = re.compile(r"[A-Za-z0-9+/]{21}[AQgw]==")


def compute_accept(key: bytes | str) -> bytes:
    """Sec-WebSocket-Accept (ASCII bytes) for a Sec-WebSocket-Key."""
    if isinstance(key, str):
        key = key.encode("ascii")
    return base64.b64encode(hashlib.sha1(key + WEBSOCKET_GUID).digest())


def _headers(request_or_headers: Any) -> Any:
    """pywebsocket's helpers take the request; ours also take its headers directly."""
    return getattr(request_or_headers, "headers_in", request_or_headers)


def get_mandatory_header(request: Any, key: str) -> str:
    """The value of header ``key`` of ``request`` (or of a headers mapping); 400 if absent."""
    value = _headers(request).get(key)
    if value is None:
        raise HandshakeException(f"header {key} is not defined")
    return str(value)


def validate_mandatory_header(request: Any, key: str, expected_value: str, fail_status: int | None = None) -> None:
    value = get_mandatory_header(request, key)
    if value.lower() != expected_value.lower():
        raise HandshakeException(f"expected {expected_value!r} for header {key} but found {value!r}", fail_status)


def has_token(value: str | None, token: str) -> bool:
    """Whether a comma-separated header value holds ``token`` (case-insensitive)."""
    if not value:
        return False
    token = token.lower()
    return any(part.strip(" \t").lower() == token for part in value.split(","))


def is_websocket_upgrade(headers: Any) -> bool:
    """Whether a request asks for a WebSocket at all (the adapters decline anything else)."""
    return has_token(headers.get(constants.UPGRADE_HEADER), constants.WEBSOCKET_UPGRADE_TYPE)


def validate_subprotocol(subprotocol: str) -> None:
    if not subprotocol or not is_token(subprotocol):
        raise HandshakeException(f"invalid subprotocol name: {subprotocol!r}")


def parse_token_list(value: str, what: str = "token list") -> list[str]:
    """Comma-separated tokens; a HandshakeException (400) naming ``what`` if any is not a token."""
    try:
        return parse_tokens(value)
    except ValueError:
        raise HandshakeException(f"invalid {what}: {value!r}") from None


# -- the checks of RFC 6455 section 4.2.1, one per step --------------------


def check_request_line(method: Any, protocol: str | None = None, *, http2: bool = False) -> None:
    """GET, and HTTP/1.1 unless ``http2``. Called as pywebsocket3 did, with the request
    alone (``check_request_line(request)``), its method and protocol are read from it."""
    if protocol is None:
        method, protocol = method.method, method.protocol
    if method != "GET":
        raise HandshakeException(f"method must be GET, not {method!r}")
    if not http2 and protocol != "HTTP/1.1":
        raise HandshakeException(f"protocol must be HTTP/1.1, not {protocol!r}")


def check_connection_header(headers: Any) -> None:
    """``Connection`` lists ``Upgrade`` (HTTP/1.1)."""
    if not has_token(_headers(headers).get(constants.CONNECTION_HEADER), "upgrade"):
        raise HandshakeException("Connection header does not contain 'Upgrade'")


def check_upgrade_headers(headers: Any, *, http2: bool = False) -> None:
    """Host, ``Upgrade: websocket`` and ``Connection: Upgrade`` (RFC 8441 has no Connection)."""
    if not http2:
        get_mandatory_header(headers, constants.HOST_HEADER)
    if not is_websocket_upgrade(headers):
        raise HandshakeException("Upgrade header does not contain 'websocket'")
    if not http2:
        check_connection_header(headers)


def check_version(headers: Any, name: str = constants.SEC_WEBSOCKET_VERSION_HEADER) -> int:
    version = headers.get(name)
    if version is None:
        raise VersionException("Sec-WebSocket-Version header is missing")
    if version.strip() != "13":
        raise VersionException(f"unsupported Sec-WebSocket-Version {version!r}")
    return constants.VERSION_HYBI_LATEST


def check_key(headers: Any) -> str:
    """The Sec-WebSocket-Key: base64 of exactly 16 bytes."""
    key = get_mandatory_header(headers, constants.SEC_WEBSOCKET_KEY_HEADER).strip(" \t")
    if not _KEY_RE.fullmatch(key):
        raise HandshakeException(f"Sec-WebSocket-Key is not 16 bytes in base64: {key!r}")
    try:
        base64.b64decode(key, validate=True)
    except binascii.Error:
        raise HandshakeException(f"Sec-WebSocket-Key is not valid base64: {key!r}") from None
    return key


def parse_protocols(value: str | None) -> list[str] | None:
    return None if value is None else parse_token_list(value, constants.SEC_WEBSOCKET_PROTOCOL_HEADER)


def parse_extension_offers(value: str | None) -> list[ExtensionParameter] | None:
    """The offers of a Sec-WebSocket-Extensions value; None when there is none, an empty
    value included (as pywebsocket3 took it: no offer, not a bad header)."""
    if not value:
        return None
    try:
        return parse_extensions(value)
    except ExtensionParsingException as e:
        raise HandshakeException(f"invalid Sec-WebSocket-Extensions: {e}") from None


@dataclass(slots=True)
class ClientHandshake:
    key: str
    version: int
    origin: str | None
    requested_protocols: list[str] | None
    requested_extensions: list[ExtensionParameter] | None


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
    accept: bytes | None,
    protocol: str | None = None,
    extensions: str | None = None,
    extra_headers: list[tuple[str, str]] | None = None,
) -> bytes:
    """The 101 response. Extra headers are written verbatim: test handlers rely on that.
    ``accept`` None leaves Sec-WebSocket-Accept out (a capture's HTTP/1.1 form of an
    HTTP/3 handshake, which has no key)."""
    lines = ["HTTP/1.1 101 Switching Protocols", "Upgrade: websocket", "Connection: Upgrade"]
    if accept is not None:
        lines.append("Sec-WebSocket-Accept: " + accept.decode("ascii"))
    lines.append("Server: " + SERVER_TOKEN)
    if protocol is not None:
        lines.append(f"{constants.SEC_WEBSOCKET_PROTOCOL_HEADER}: {protocol}")
    if extensions:
        lines.append(f"{constants.SEC_WEBSOCKET_EXTENSIONS_HEADER}: {extensions}")
    for name, value in extra_headers or ():
        lines.append(f"{name}: {value}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


def normalize_origin(origin: str) -> str:
    """Origins compare case-insensitively and without a trailing slash."""
    return origin.strip().rstrip("/").lower()


def parse_allowed_origins(value: str | None) -> frozenset[str] | None:
    """``"https://a.test, http://b.test:8000"`` -> a set for StreamOptions; empty -> None (any)."""
    origins = frozenset(normalize_origin(o) for o in (value or "").replace(",", " ").split())
    return origins or None
