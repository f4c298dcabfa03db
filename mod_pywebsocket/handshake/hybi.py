"""RFC 6455 handshake helpers under the module name pywebsocket handlers import."""

from __future__ import annotations

from ..errors import HandshakeException, VersionException
from .base import WEBSOCKET_GUID, build_response, compute_accept, parse_client_handshake

__all__ = [
    "WEBSOCKET_GUID",
    "HandshakeException",
    "VersionException",
    "build_response",
    "compute_accept",
    "compute_accept_from_unicode",
    "parse_client_handshake",
]


def compute_accept_from_unicode(unicode_key: str) -> bytes:
    return compute_accept(unicode_key.encode("ascii"))
