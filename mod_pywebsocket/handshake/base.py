"""pywebsocket's ``handshake.base``: the opening handshake's checks and ``HandshakerBase``.

The checks live in ``core.handshake``, the flow in ``runtime.handshaker``; wptserve
subclasses ``HandshakerBase`` and calls ``get_mandatory_header`` and
``validate_mandatory_header`` by these names.
"""

from __future__ import annotations

from ..core.errors import AbortedByUserException, DispatchException, HandshakeException, VersionException
from ..core.handshake import (
    SERVER_TOKEN,
    WEBSOCKET_GUID,
    ClientHandshake,
    build_response,
    check_key,
    check_request_line,
    check_selected_protocol,
    check_upgrade_headers,
    check_version,
    compute_accept,
    get_mandatory_header,
    has_token,
    is_websocket_upgrade,
    normalize_origin,
    parse_extension_offers,
    parse_protocols,
    parse_token_list,
    validate_mandatory_header,
    validate_subprotocol,
)
from ..runtime.handshaker import HandshakerBase, parse_client_handshake

__all__ = [
    "SERVER_TOKEN",
    "WEBSOCKET_GUID",
    "AbortedByUserException",
    "ClientHandshake",
    "DispatchException",
    "HandshakeException",
    "HandshakerBase",
    "VersionException",
    "build_response",
    "check_key",
    "check_request_line",
    "check_selected_protocol",
    "check_upgrade_headers",
    "check_version",
    "compute_accept",
    "get_mandatory_header",
    "has_token",
    "is_websocket_upgrade",
    "normalize_origin",
    "parse_client_handshake",
    "parse_extension_offers",
    "parse_protocols",
    "parse_token_list",
    "validate_mandatory_header",
    "validate_subprotocol",
]
