"""RFC 6455's opening handshake (the module name pywebsocket handlers import).

``Handshaker`` fills ``HandshakerBase``'s hooks for a GET with ``Upgrade:
websocket``: over HTTP/1.1, and over HTTP/2 as Apache's mod_http2 hands an RFC
8441 CONNECT to the adapter (a GET with protocol ``HTTP/2.0``, no Connection
header, and a 101 that mod_http2 turns into ``:status 200``).
"""

from __future__ import annotations

from .. import common
from ..errors import HandshakeException, VersionException
from .base import (
    WEBSOCKET_GUID,
    HandshakerBase,
    build_response,
    check_key,
    check_request_line,
    check_upgrade_headers,
    compute_accept,
    parse_client_handshake,
)

__all__ = [
    "WEBSOCKET_GUID",
    "HandshakeException",
    "Handshaker",
    "VersionException",
    "build_response",
    "compute_accept",
    "compute_accept_from_unicode",
    "parse_client_handshake",
]


def compute_accept_from_unicode(unicode_key: str) -> bytes:
    return compute_accept(unicode_key.encode("ascii"))


class Handshaker(HandshakerBase):
    """The RFC 6455 handshake, answered with a 101 written on ``request.connection``."""

    def _http2(self) -> bool:
        return self._request.protocol.startswith("HTTP/2")

    def _protocol_rfc(self) -> str:
        return "RFC 8441" if self._http2() else "RFC 6455"

    def _validate_request(self) -> None:
        http2 = self._http2()
        check_request_line(self._request.method, self._request.protocol, http2=http2)
        check_upgrade_headers(self._request.headers_in, http2=http2)

    def _set_accept(self) -> None:
        self._request._accept = compute_accept(check_key(self._request.headers_in))

    def _send_handshake(self) -> None:
        request = self._request
        extensions = common.format_extensions(request.ws_extensions) if request.ws_extensions else None
        response = build_response(request._accept, request.ws_protocol, extensions, request.extra_headers)
        request.connection.write(response)
