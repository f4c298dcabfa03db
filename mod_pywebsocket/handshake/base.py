"""The opening handshake: pure checks (RFC 6455 section 4.2) and the flow around them.

The functions check one step each, ``HandshakerBase.check_client_handshake`` runs
them in order (``parse_client_handshake`` runs it on a request head alone, for tests
and fuzzers), and ``build_response`` makes the 101 bytes; no I/O. Repeated header lines are
expected to arrive merged with ", " (as Apache and the standalone server do), so
a duplicated key or version shows up as a bad value.

``HandshakerBase`` is the server-side flow, with pywebsocket's hooks
(``_validate_request``, ``_set_accept``, ``_send_handshake``, ...): ``hybi.Handshaker``
fills them for RFC 6455, and servers that bootstrap WebSockets over HTTP/2 or 3
(wptserve) subclass it with their own.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import re
from dataclasses import dataclass
from typing import Any

from .. import common
from ..errors import AbortedByUserException, DispatchException, HandshakeException, VersionException
from ..extensions import get_extension_processor, negotiate
from ..http import SERVER_TOKEN
from ..stream import Stream, StreamOptions

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
    return value


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
    return has_token(headers.get(common.UPGRADE_HEADER), common.WEBSOCKET_UPGRADE_TYPE)


def validate_subprotocol(subprotocol: str) -> None:
    if not subprotocol or not common.is_token(subprotocol):
        raise HandshakeException(f"invalid subprotocol name: {subprotocol!r}")


def parse_token_list(value: str, what: str = "token list") -> list[str]:
    """Comma-separated tokens; a HandshakeException (400) naming ``what`` if any is not a token."""
    try:
        return common.parse_token_list(value)
    except ValueError:
        raise HandshakeException(f"invalid {what}: {value!r}") from None


# -- the checks of RFC 6455 section 4.2.1, one per step --------------------


def check_request_line(method: str, protocol: str, *, http2: bool = False) -> None:
    if method != "GET":
        raise HandshakeException(f"method must be GET, not {method!r}")
    if not http2 and protocol != "HTTP/1.1":
        raise HandshakeException(f"protocol must be HTTP/1.1, not {protocol!r}")


def check_upgrade_headers(headers: Any, *, http2: bool = False) -> None:
    """Host, ``Upgrade: websocket`` and ``Connection: Upgrade`` (RFC 8441 has no Connection)."""
    if not http2:
        get_mandatory_header(headers, common.HOST_HEADER)
    if not is_websocket_upgrade(headers):
        raise HandshakeException("Upgrade header does not contain 'websocket'")
    if not http2 and not has_token(headers.get(common.CONNECTION_HEADER), "upgrade"):
        raise HandshakeException("Connection header does not contain 'Upgrade'")


def check_version(headers: Any, name: str = common.SEC_WEBSOCKET_VERSION_HEADER) -> int:
    version = headers.get(name)
    if version is None:
        raise VersionException("Sec-WebSocket-Version header is missing")
    if version.strip() != "13":
        raise VersionException(f"unsupported Sec-WebSocket-Version {version!r}")
    return common.VERSION_HYBI_LATEST


def check_key(headers: Any) -> str:
    """The Sec-WebSocket-Key: base64 of exactly 16 bytes."""
    key = get_mandatory_header(headers, common.SEC_WEBSOCKET_KEY_HEADER).strip(" \t")
    if not _KEY_RE.fullmatch(key):
        raise HandshakeException(f"Sec-WebSocket-Key is not 16 bytes in base64: {key!r}")
    try:
        base64.b64decode(key, validate=True)
    except binascii.Error:
        raise HandshakeException(f"Sec-WebSocket-Key is not valid base64: {key!r}") from None
    return key


def parse_protocols(value: str | None) -> list[str] | None:
    return None if value is None else parse_token_list(value, common.SEC_WEBSOCKET_PROTOCOL_HEADER)


def parse_extension_offers(value: str | None) -> list[common.ExtensionParameter] | None:
    if value is None:
        return None
    try:
        return common.parse_extensions(value)
    except common.ExtensionParsingException as e:
        raise HandshakeException(f"invalid Sec-WebSocket-Extensions: {e}") from None


@dataclass(slots=True)
class ClientHandshake:
    key: str
    version: int
    origin: str | None
    requested_protocols: list[str] | None
    requested_extensions: list[common.ExtensionParameter] | None


def parse_client_handshake(method: str, protocol: str, headers: Any, *, http2: bool = False) -> ClientHandshake:
    """Validate a client's opening handshake; raise HandshakeException with the status to answer.

    It runs the production checks, ``hybi.Handshaker``'s, in their order, on the
    request head alone (for tests, fuzzers and tools); ``headers`` needs only a
    case-insensitive ``get(name)``. As in production, the protocol decides whether the
    RFC 8441 rules apply (``HTTP/2...``: no Connection header, the key is the proxy's
    own); ``http2=True`` is kept for old callers and must agree with it.
    """
    from .hybi import Handshaker  # hybi builds on this module

    if http2 and not protocol.startswith("HTTP/2"):
        raise ValueError(f"http2=True with protocol {protocol!r}")
    request = _RequestHead(method, protocol, headers)
    Handshaker(request, None).check_client_handshake()
    return ClientHandshake(
        key=headers.get(common.SEC_WEBSOCKET_KEY_HEADER).strip(" \t"),
        version=request.ws_version,
        origin=request.ws_origin,
        requested_protocols=request.ws_requested_protocols,
        requested_extensions=request.ws_requested_extensions,
    )


class _RequestHead:
    """Just what the checks of ``HandshakerBase`` read of a request."""

    def __init__(self, method: str, protocol: str, headers: Any) -> None:
        self.method = method
        self.protocol = protocol
        self.headers_in = headers
        self.uri = "/"


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
        "Server: " + SERVER_TOKEN,
    ]
    if protocol is not None:
        lines.append(f"{common.SEC_WEBSOCKET_PROTOCOL_HEADER}: {protocol}")
    if extensions:
        lines.append(f"{common.SEC_WEBSOCKET_EXTENSIONS_HEADER}: {extensions}")
    for name, value in extra_headers or ():
        lines.append(f"{name}: {value}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


_log = logging.getLogger("mod_pywebsocket.handshake")


class HandshakerBase:
    """The server's side of an opening handshake, on a request object; subclasses fill the hooks.

    ``do_handshake()`` validates, sets the ``ws_*`` attributes, runs the handler's
    ``web_socket_do_extra_handshake``, negotiates extensions, creates
    ``request.ws_stream`` and has ``_send_handshake`` answer. A HandshakeException
    without a status becomes 400.
    """

    def __init__(self, request, dispatcher, options: StreamOptions | None = None) -> None:
        self._logger = _log
        self._request = request
        self._dispatcher = dispatcher
        self._options = options

    # -- hooks --------------------------------------------------------------

    def _transform_header(self, header: str) -> str:
        """The name under which ``headers_in`` holds ``header`` (HTTP/2 servers lower-case)."""
        return header

    def _protocol_rfc(self) -> str:
        raise NotImplementedError

    def _validate_request(self) -> None:
        """Check the method, the request line and the upgrade headers."""
        raise NotImplementedError

    def _set_accept(self) -> None:
        """Check the key and set ``request._accept`` (nothing to do over HTTP/2)."""
        raise NotImplementedError

    def _send_handshake(self) -> None:
        """Answer the client (or prepare the answer, for a server that sends it itself)."""
        raise NotImplementedError

    # -- the flow -----------------------------------------------------------

    def do_handshake(self) -> None:
        request = self._request
        request.ws_close_code = None
        request.ws_close_reason = None
        try:
            self.check_client_handshake()
            request.ws_extension_processors = self._get_extension_processors_requested()
            request.extra_headers = []
            options = self._stream_options()
            self._check_origin(options)
            self._do_extra_handshake()
            check_selected_protocol(request.ws_requested_protocols, request.ws_protocol)
            self._create_stream(options)
            self._send_handshake()
        except HandshakeException as e:
            if not e.status:
                e.status = common.HTTP_STATUS_BAD_REQUEST
            raise
        extensions = common.format_extensions(request.ws_extensions) if request.ws_extensions else ""
        _log.info(
            "established %s (%s%s) from %s",
            request.ws_resource,
            self._protocol_rfc(),
            f", {extensions}" if extensions else "",
            _peer(request),
        )

    def check_client_handshake(self) -> None:
        """Every check of the client's request, in order, setting the ``ws_*`` attributes it reads.

        The first step of ``do_handshake``; ``parse_client_handshake`` runs it alone.
        """
        request = self._request
        self._validate_request()
        request.ws_resource = request.uri
        request.ws_version = self._check_version()
        request.ws_origin = self._header(common.ORIGIN_HEADER)
        request.ws_protocol = None
        request.ws_requested_protocols = parse_protocols(self._header(common.SEC_WEBSOCKET_PROTOCOL_HEADER))
        request.ws_requested_extensions = parse_extension_offers(self._header(common.SEC_WEBSOCKET_EXTENSIONS_HEADER))
        self._set_accept()

    def _header(self, name: str) -> str | None:
        return self._request.headers_in.get(self._transform_header(name))

    def _check_version(self) -> int:
        return check_version(self._request.headers_in, self._transform_header(common.SEC_WEBSOCKET_VERSION_HEADER))

    def _get_extension_processors_requested(self) -> list:
        offers = self._request.ws_requested_extensions or ()
        return [p for p in map(get_extension_processor, offers) if p is not None]

    def _stream_options(self) -> StreamOptions:
        # Embedders of older versions set request._stream_options; still read.
        return self._options or getattr(self._request, "_stream_options", None) or StreamOptions()

    def _check_origin(self, options) -> None:
        origin = self._request.ws_origin
        if options.allowed_origins is not None and origin is not None:
            if normalize_origin(origin) not in options.allowed_origins:
                raise HandshakeException(f"origin {origin!r} is not allowed", common.HTTP_STATUS_FORBIDDEN)

    def _do_extra_handshake(self) -> None:
        try:
            self._dispatcher.do_extra_handshake(self._request)
        except (AbortedByUserException, HandshakeException, DispatchException):
            raise
        except Exception as e:
            raise HandshakeException(f"handler rejected the handshake: {e!r}", common.HTTP_STATUS_FORBIDDEN) from e

    def _create_stream(self, options) -> None:
        request = self._request
        request.ws_extensions, deflate = negotiate(request.ws_extension_processors or [])
        passive_close = getattr(self._dispatcher, "passive_closing_handshake", None)
        request.ws_stream = Stream(request, options, deflate, passive_closing_handshake=passive_close)


def normalize_origin(origin: str) -> str:
    """Origins compare case-insensitively and without a trailing slash."""
    return origin.strip().rstrip("/").lower()


def _peer(request) -> str:
    try:
        addr = request.connection.remote_addr
        return f"{addr[0]}:{addr[1]}"
    except Exception:
        return "?"
