"""pywebsocket's ``handshake.hybi``: RFC 6455's opening handshake (``runtime.handshaker``).

``Handshaker`` fills ``HandshakerBase``'s hooks for a GET with ``Upgrade:
websocket``: over HTTP/1.1, and over HTTP/2 as Apache's mod_http2 hands an RFC
8441 CONNECT to the adapter (a GET with protocol ``HTTP/2.0``, no Connection
header, and a 101 that mod_http2 turns into ``:status 200``).
"""

from __future__ import annotations

from ..core.errors import HandshakeException, VersionException
from ..core.handshake import WEBSOCKET_GUID, build_response, compute_accept
from ..runtime.handshaker import Handshaker, parse_client_handshake

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
