"""pywebsocket's ``handshake.base``: the opening handshake's checks and ``HandshakerBase``.

The checks live in ``core.handshake``, the flow in ``runtime.handshaker``; wptserve
subclasses ``HandshakerBase`` and calls ``get_mandatory_header`` and
``validate_mandatory_header`` by these names.
"""

from __future__ import annotations

from .. import common as common
from .. import http_header_util as http_header_util
from .. import util as util
from ..core.deflate import get_extension_processor as get_extension_processor
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
from ..runtime.blocking_stream import Stream, StreamOptions
from ..runtime.handshaker import HandshakerBase, parse_client_handshake

_VERSION_LATEST = common.VERSION_HYBI_LATEST
_VERSION_LATEST_STRING = str(_VERSION_LATEST)
_SUPPORTED_VERSIONS = [_VERSION_LATEST]

__all__ = [
    "SERVER_TOKEN",
    "Stream",
    "StreamOptions",
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
    "get_default_port",
    "get_mandatory_header",
    "has_token",
    "is_websocket_upgrade",
    "normalize_origin",
    "parse_client_handshake",
    "parse_extension_offers",
    "parse_host_header",
    "parse_protocols",
    "parse_token_list",
    "validate_mandatory_header",
    "validate_subprotocol",
]


def get_default_port(is_secure: bool) -> int:
    """443 for wss, 80 for ws."""
    return common.DEFAULT_WEB_SOCKET_SECURE_PORT if is_secure else common.DEFAULT_WEB_SOCKET_PORT


def parse_host_header(request) -> tuple[str, int]:
    """``(host, port)`` of the request's Host header, the scheme's port when it names none."""
    host, _, port = request.headers_in[common.HOST_HEADER].partition(":")
    if not port:
        return host, get_default_port(request.is_https())
    try:
        return host, int(port)
    except ValueError as e:
        raise HandshakeException(f"invalid port in the Host header: {e!r}") from None
