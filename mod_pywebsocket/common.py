"""pywebsocket's ``common``: the protocol's constants and the extension-header grammar.

The names match the ones pywebsocket handlers import (``common.STATUS_*``,
``common.OPCODE_*``, ``common.ExtensionParameter``, ...); they live in
``core.constants``, ``core.headers`` and ``core.handshake`` (``WEBSOCKET_ACCEPT_UUID``).
``_parse_extension`` and ``_parse_extension_param``, pywebsocket3's step-by-step
parsers over ``http_header_util``'s cursor, are written below; ``parse_extensions``
itself is ``core.headers``' (RFC 6455 section 9.1, stricter about quoted values).
"""

from __future__ import annotations

from . import http_header_util
from .core.constants import (
    CONNECTION_HEADER,
    DEFAULT_WEB_SOCKET_PORT,
    DEFAULT_WEB_SOCKET_SECURE_PORT,
    HOST_HEADER,
    HTTP_STATUS_BAD_REQUEST,
    HTTP_STATUS_FORBIDDEN,
    HTTP_STATUS_INTERNAL_SERVER_ERROR,
    HTTP_STATUS_NOT_FOUND,
    HTTP_STATUS_UPGRADE_REQUIRED,
    LOGLEVEL_FINE,
    OPCODE_BINARY,
    OPCODE_CLOSE,
    OPCODE_CONTINUATION,
    OPCODE_PING,
    OPCODE_PONG,
    OPCODE_TEXT,
    ORIGIN_HEADER,
    PERMESSAGE_DEFLATE_EXTENSION,
    SEC_WEBSOCKET_ACCEPT_HEADER,
    SEC_WEBSOCKET_EXTENSIONS_HEADER,
    SEC_WEBSOCKET_KEY_HEADER,
    SEC_WEBSOCKET_PROTOCOL_HEADER,
    SEC_WEBSOCKET_VERSION_HEADER,
    STATUS_ABNORMAL_CLOSE,
    STATUS_ABNORMAL_CLOSURE,
    STATUS_CODE_NOT_AVAILABLE,
    STATUS_GOING_AWAY,
    STATUS_INTERNAL_ENDPOINT_ERROR,
    STATUS_INVALID_FRAME_PAYLOAD,
    STATUS_INVALID_FRAME_PAYLOAD_DATA,
    STATUS_MANDATORY_EXT,
    STATUS_MANDATORY_EXTENSION,
    STATUS_MESSAGE_TOO_BIG,
    STATUS_NO_STATUS_RECEIVED,
    STATUS_NORMAL,
    STATUS_NORMAL_CLOSURE,
    STATUS_POLICY_VIOLATION,
    STATUS_PROTOCOL_ERROR,
    STATUS_TLS_HANDSHAKE,
    STATUS_UNSUPPORTED,
    STATUS_UNSUPPORTED_DATA,
    STATUS_USER_PRIVATE_BASE,
    STATUS_USER_PRIVATE_MAX,
    STATUS_USER_REGISTERED_BASE,
    STATUS_USER_REGISTERED_MAX,
    UPGRADE_CONNECTION_TYPE,
    UPGRADE_HEADER,
    VERSION_HIXIE75,
    VERSION_HYBI00,
    VERSION_HYBI13,
    VERSION_HYBI14,
    VERSION_HYBI15,
    VERSION_HYBI16,
    VERSION_HYBI17,
    VERSION_HYBI_LATEST,
    WEB_SOCKET_SCHEME,
    WEB_SOCKET_SECURE_SCHEME,
    WEBSOCKET_UPGRADE_TYPE,
    is_control_opcode,
)
from .core.handshake import WEBSOCKET_GUID as WEBSOCKET_ACCEPT_UUID
from .core.headers import (
    ExtensionParameter,
    ExtensionParsingException,
    format_extension,
    format_extensions,
    is_token,
    parse_extensions,
    parse_token_list,
)

__all__ = [
    "VERSION_HYBI13",
    "VERSION_HYBI14",
    "VERSION_HYBI15",
    "VERSION_HYBI16",
    "VERSION_HYBI17",
    "VERSION_HYBI_LATEST",
    "VERSION_HIXIE75",
    "VERSION_HYBI00",
    "DEFAULT_WEB_SOCKET_PORT",
    "DEFAULT_WEB_SOCKET_SECURE_PORT",
    "WEB_SOCKET_SCHEME",
    "WEB_SOCKET_SECURE_SCHEME",
    "OPCODE_CONTINUATION",
    "OPCODE_TEXT",
    "OPCODE_BINARY",
    "OPCODE_CLOSE",
    "OPCODE_PING",
    "OPCODE_PONG",
    "WEBSOCKET_ACCEPT_UUID",
    "UPGRADE_HEADER",
    "CONNECTION_HEADER",
    "HOST_HEADER",
    "ORIGIN_HEADER",
    "SEC_WEBSOCKET_KEY_HEADER",
    "SEC_WEBSOCKET_ACCEPT_HEADER",
    "SEC_WEBSOCKET_VERSION_HEADER",
    "SEC_WEBSOCKET_PROTOCOL_HEADER",
    "SEC_WEBSOCKET_EXTENSIONS_HEADER",
    "WEBSOCKET_UPGRADE_TYPE",
    "UPGRADE_CONNECTION_TYPE",
    "PERMESSAGE_DEFLATE_EXTENSION",
    "STATUS_NORMAL_CLOSURE",
    "STATUS_GOING_AWAY",
    "STATUS_PROTOCOL_ERROR",
    "STATUS_UNSUPPORTED_DATA",
    "STATUS_NO_STATUS_RECEIVED",
    "STATUS_ABNORMAL_CLOSURE",
    "STATUS_INVALID_FRAME_PAYLOAD_DATA",
    "STATUS_POLICY_VIOLATION",
    "STATUS_MESSAGE_TOO_BIG",
    "STATUS_MANDATORY_EXTENSION",
    "STATUS_INTERNAL_ENDPOINT_ERROR",
    "STATUS_TLS_HANDSHAKE",
    "STATUS_USER_REGISTERED_BASE",
    "STATUS_USER_REGISTERED_MAX",
    "STATUS_USER_PRIVATE_BASE",
    "STATUS_USER_PRIVATE_MAX",
    "STATUS_NORMAL",
    "STATUS_UNSUPPORTED",
    "STATUS_CODE_NOT_AVAILABLE",
    "STATUS_ABNORMAL_CLOSE",
    "STATUS_INVALID_FRAME_PAYLOAD",
    "STATUS_MANDATORY_EXT",
    "HTTP_STATUS_BAD_REQUEST",
    "HTTP_STATUS_FORBIDDEN",
    "HTTP_STATUS_NOT_FOUND",
    "HTTP_STATUS_UPGRADE_REQUIRED",
    "HTTP_STATUS_INTERNAL_SERVER_ERROR",
    "LOGLEVEL_FINE",
    "is_control_opcode",
    "ExtensionParameter",
    "ExtensionParsingException",
    "format_extension",
    "format_extensions",
    "is_token",
    "parse_extensions",
    "parse_token_list",
]


def _parse_extension_param(state: http_header_util.ParsingState, definition: ExtensionParameter) -> None:
    """Read one ``name[=value]`` at ``state``'s head (after a ``;``) into ``definition``."""
    name = http_header_util.consume_token(state)
    if name is None:
        raise ExtensionParsingException("No valid parameter name found")
    http_header_util.consume_lwses(state)
    if not http_header_util.consume_string(state, "="):
        definition.add_parameter(name, None)
        return
    http_header_util.consume_lwses(state)
    value = http_header_util.consume_token_or_quoted_string(state)
    if value is None:
        raise ExtensionParsingException(f"No valid parameter value found on the right-hand side of parameter {name!r}")
    definition.add_parameter(name, value)


def _parse_extension(state: http_header_util.ParsingState) -> ExtensionParameter | None:
    """Read one extension (its name, then ``; param`` items) at ``state``'s head; None
    when no name starts there."""
    name = http_header_util.consume_token(state)
    if name is None:
        return None
    extension = ExtensionParameter(name)
    while True:
        http_header_util.consume_lwses(state)
        if not http_header_util.consume_string(state, ";"):
            return extension
        http_header_util.consume_lwses(state)
        try:
            _parse_extension_param(state, extension)
        except ExtensionParsingException as e:
            raise ExtensionParsingException(f"Failed to parse parameter for {name!r} ({e!r})") from e
