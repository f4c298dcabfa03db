"""Constants and extension-header helpers shared by every part of the server.

The names match the ones pywebsocket handlers import (``common.STATUS_*``,
``common.OPCODE_*``, ``common.ExtensionParameter``, ...), so existing handler
code keeps working.
"""

from __future__ import annotations

# Protocol versions. Only RFC 6455 (13) is spoken; the aliases keep old imports valid.
VERSION_HYBI13 = 13
VERSION_HYBI14 = 13
VERSION_HYBI15 = 13
VERSION_HYBI16 = 13
VERSION_HYBI17 = 13
VERSION_HYBI_LATEST = VERSION_HYBI13
VERSION_HIXIE75 = -1
VERSION_HYBI00 = 0

DEFAULT_WEB_SOCKET_PORT = 80
DEFAULT_WEB_SOCKET_SECURE_PORT = 443
WEB_SOCKET_SCHEME = "ws"
WEB_SOCKET_SECURE_SCHEME = "wss"

# Frame opcodes (RFC 6455 section 5.2).
OPCODE_CONTINUATION = 0x0
OPCODE_TEXT = 0x1
OPCODE_BINARY = 0x2
OPCODE_CLOSE = 0x8
OPCODE_PING = 0x9
OPCODE_PONG = 0xA

# Header names and values.
UPGRADE_HEADER = "Upgrade"
CONNECTION_HEADER = "Connection"
HOST_HEADER = "Host"
ORIGIN_HEADER = "Origin"
SEC_WEBSOCKET_KEY_HEADER = "Sec-WebSocket-Key"
SEC_WEBSOCKET_ACCEPT_HEADER = "Sec-WebSocket-Accept"
SEC_WEBSOCKET_VERSION_HEADER = "Sec-WebSocket-Version"
SEC_WEBSOCKET_PROTOCOL_HEADER = "Sec-WebSocket-Protocol"
SEC_WEBSOCKET_EXTENSIONS_HEADER = "Sec-WebSocket-Extensions"
WEBSOCKET_UPGRADE_TYPE = "websocket"
UPGRADE_CONNECTION_TYPE = "Upgrade"

# Extension names.
PERMESSAGE_DEFLATE_EXTENSION = "permessage-deflate"

# Close status codes (RFC 6455 section 7.4).
STATUS_NORMAL_CLOSURE = 1000
STATUS_GOING_AWAY = 1001
STATUS_PROTOCOL_ERROR = 1002
STATUS_UNSUPPORTED_DATA = 1003
STATUS_NO_STATUS_RECEIVED = 1005
STATUS_ABNORMAL_CLOSURE = 1006
STATUS_INVALID_FRAME_PAYLOAD_DATA = 1007
STATUS_POLICY_VIOLATION = 1008
STATUS_MESSAGE_TOO_BIG = 1009
STATUS_MANDATORY_EXTENSION = 1010
STATUS_INTERNAL_ENDPOINT_ERROR = 1011
STATUS_TLS_HANDSHAKE = 1015
STATUS_USER_REGISTERED_BASE = 3000
STATUS_USER_REGISTERED_MAX = 3999
STATUS_USER_PRIVATE_BASE = 4000
STATUS_USER_PRIVATE_MAX = 4999
# Older names for the same codes.
STATUS_NORMAL = STATUS_NORMAL_CLOSURE
STATUS_UNSUPPORTED = STATUS_UNSUPPORTED_DATA
STATUS_CODE_NOT_AVAILABLE = STATUS_NO_STATUS_RECEIVED
STATUS_ABNORMAL_CLOSE = STATUS_ABNORMAL_CLOSURE
STATUS_INVALID_FRAME_PAYLOAD = STATUS_INVALID_FRAME_PAYLOAD_DATA
STATUS_MANDATORY_EXT = STATUS_MANDATORY_EXTENSION

HTTP_STATUS_BAD_REQUEST = 400
HTTP_STATUS_FORBIDDEN = 403
HTTP_STATUS_NOT_FOUND = 404
HTTP_STATUS_UPGRADE_REQUIRED = 426
HTTP_STATUS_INTERNAL_SERVER_ERROR = 500

LOGLEVEL_FINE = 9


def is_control_opcode(opcode: int) -> bool:
    return (opcode >> 3) == 1


class ExtensionParameter:
    """One offered or accepted extension: a name plus ordered (name, value) parameters."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._parameters: list[tuple[str, str | None]] = []

    def name(self) -> str:
        return self._name

    def add_parameter(self, name: str, value: str | None) -> None:
        self._parameters.append((name, value))

    def get_parameters(self) -> list[tuple[str, str | None]]:
        return self._parameters

    def get_parameter_names(self) -> list[str]:
        return [name for name, _ in self._parameters]

    def has_parameter(self, name: str) -> bool:
        return any(n == name for n, _ in self._parameters)

    def get_parameter_value(self, name: str) -> str | None:
        for n, value in self._parameters:
            if n == name:
                return value
        return None

    def __repr__(self) -> str:
        return f"ExtensionParameter({format_extension(self)!r})"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, ExtensionParameter)
            and self._name == other._name
            and self._parameters == other._parameters
        )


class ExtensionParsingException(Exception):
    """Raised when a Sec-WebSocket-Extensions value is not valid."""


# RFC 7230 tchar.
_TOKEN_CHARS = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def is_token(value: str) -> bool:
    return bool(value) and all(c in _TOKEN_CHARS for c in value)


class _Scanner:
    """Cursor over a header value for the RFC 7230 list grammar."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def skip_ows(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \t":
            self.pos += 1

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def token(self) -> str:
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] in _TOKEN_CHARS:
            self.pos += 1
        return self.text[start : self.pos]

    def quoted_string(self) -> str | None:
        if self.peek() != '"':
            return None
        self.pos += 1
        out = []
        while self.pos < len(self.text):
            c = self.text[self.pos]
            self.pos += 1
            if c == '"':
                return "".join(out)
            if c == "\\":
                if self.pos >= len(self.text):
                    return None
                c = self.text[self.pos]
                self.pos += 1
            out.append(c)
        return None


def parse_extensions(data: str) -> list[ExtensionParameter]:
    """Parse a Sec-WebSocket-Extensions value (RFC 6455 section 9.1).

    Quoted parameter values must unquote to a token, as section 9.1 requires.
    """
    scanner = _Scanner(data)
    result: list[ExtensionParameter] = []
    while True:
        scanner.skip_ows()
        name = scanner.token()
        if not name:
            raise ExtensionParsingException(f"expected an extension name at {scanner.pos} in {data!r}")
        extension = ExtensionParameter(name)
        scanner.skip_ows()
        while scanner.peek() == ";":
            scanner.pos += 1
            scanner.skip_ows()
            param = scanner.token()
            if not param:
                raise ExtensionParsingException(f"expected a parameter name at {scanner.pos} in {data!r}")
            scanner.skip_ows()
            value: str | None = None
            if scanner.peek() == "=":
                scanner.pos += 1
                scanner.skip_ows()
                if scanner.peek() == '"':
                    value = scanner.quoted_string()
                    if value is None or not is_token(value):
                        raise ExtensionParsingException(f"bad quoted value for {param!r} in {data!r}")
                else:
                    value = scanner.token()
                    if not value:
                        raise ExtensionParsingException(f"expected a value for {param!r} in {data!r}")
                scanner.skip_ows()
            extension.add_parameter(param, value)
        result.append(extension)
        if scanner.at_end():
            return result
        if scanner.peek() != ",":
            raise ExtensionParsingException(f"unexpected {scanner.peek()!r} at {scanner.pos} in {data!r}")
        scanner.pos += 1


def parse_token_list(data: str) -> list[str]:
    """Parse a ``1#token`` header value; raise ValueError on anything else."""
    tokens = [part.strip(" \t") for part in data.split(",")]
    if not tokens or not all(is_token(t) for t in tokens):
        raise ValueError(f"not a list of tokens: {data!r}")
    return tokens


def format_extension(extension: ExtensionParameter) -> str:
    parts = [extension.name()]
    for name, value in extension.get_parameters():
        parts.append(name if value is None else f"{name}={value}")
    return "; ".join(parts)


def format_extensions(extension_list: list[ExtensionParameter]) -> str:
    return ", ".join(format_extension(e) for e in extension_list)
