"""The header grammar of RFC 6455 and RFC 7692: tokens, token lists, extension offers.

Pure functions; ``common`` re-exports them under pywebsocket's names.
"""

from __future__ import annotations


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
        out: list[str] = []
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
