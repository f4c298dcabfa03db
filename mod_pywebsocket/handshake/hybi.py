"""pywebsocket's ``handshake.hybi``: RFC 6455's opening handshake (``runtime.handshaker``).

``Handshaker`` fills ``HandshakerBase``'s hooks for a GET with ``Upgrade:
websocket``: over HTTP/1.1, and over HTTP/2 as Apache's mod_http2 hands an RFC
8441 CONNECT to the adapter (a GET with protocol ``HTTP/2.0``, no Connection
header, and a 101 that mod_http2 turns into ``:status 200``).
"""

from __future__ import annotations

from hashlib import sha1 as sha1

from .. import common as common
from .. import util as util
from ..core.errors import HandshakeException, VersionException
from ..core.handshake import _KEY_RE as _SEC_WEBSOCKET_KEY_REGEX
from ..core.handshake import (
    WEBSOCKET_GUID,
    build_response,
    check_request_line,
    compute_accept,
    get_mandatory_header,
    parse_token_list,
    validate_mandatory_header,
)
from ..runtime.handshaker import Handshaker, HandshakerBase, parse_client_handshake

__all__ = [
    "WEBSOCKET_GUID",
    "HandshakeException",
    "Handshaker",
    "HandshakerBase",
    "VersionException",
    "_SEC_WEBSOCKET_KEY_REGEX",
    "build_response",
    "check_request_line",
    "compute_accept",
    "compute_accept_from_unicode",
    "format_header",
    "get_mandatory_header",
    "parse_client_handshake",
    "parse_token_list",
    "validate_mandatory_header",
]


def compute_accept_from_unicode(unicode_key: str) -> bytes:
    return compute_accept(unicode_key.encode("ascii"))


def format_header(name: str, value: str) -> str:
    """One header line of a handshake response: ``name: value`` and CRLF."""
    return f"{name}: {value}\r\n"
