"""pywebsocket3's ``http_header_util``: a cursor over an HTTP header value, RFC 2616's grammar.

pywebsocket3 parses ``Sec-WebSocket-Extensions`` with these functions (``common``'s
``_parse_extension`` still does here), and handlers and tools call ``quote_if_necessary``
and ``parse_uri``. A ``ParsingState`` is the value and a position (``head``); each
``consume_*`` either advances past what it recognises and returns it, or leaves the
position where it was. This package's own header grammar (RFC 7230, what the
handshake uses) is ``core.headers``; this module is written here for pywebsocket3's names.
"""

from __future__ import annotations

from urllib.parse import urlsplit

# RFC 2616 section 2.2: the characters that end a token.
_SEPARATORS = '()<>@,;:\\"/[]?={} \t'

_DEFAULT_PORTS = {"ws": 80, "wss": 443}


def _is_char(c: str) -> bool:
    """CHAR: any US-ASCII character."""
    return ord(c) < 128


def _is_ctl(c: str) -> bool:
    """CTL: the control characters 0-31 and DEL."""
    code = ord(c)
    return code < 32 or code == 127


def _is_token_char(c: str) -> bool:
    return _is_char(c) and not _is_ctl(c) and c not in _SEPARATORS


def _needs_escape(c: str) -> bool:
    """Whether ``quote_if_necessary`` writes ``c`` as a quoted-pair."""
    return c == '"' or _is_ctl(c)


class ParsingState:
    """The text being parsed (``data``) and the index of the next character (``head``)."""

    def __init__(self, data: str) -> None:
        self.data = data
        self.head = 0


def peek(state: ParsingState, pos: int = 0) -> str | None:
    """The character ``pos`` places after the head, or None past the end; nothing is consumed."""
    index = state.head + pos
    return state.data[index] if index < len(state.data) else None


def consume(state: ParsingState, amount: int = 1) -> str | None:
    """Take the next ``amount`` characters, or None (and take nothing) if fewer are left."""
    end = state.head + amount
    if end > len(state.data):
        return None
    taken = state.data[state.head : end]
    state.head = end
    return taken


def consume_string(state: ParsingState, expected: str) -> bool:
    """Take ``expected`` if the text continues with it; whether it did."""
    if not state.data.startswith(expected, state.head):
        return False
    state.head += len(expected)
    return True


def consume_lws(state: ParsingState) -> bool:
    """Take one LWS (``[CRLF] 1*( SP | HT )``); whether there was one."""
    start = state.head
    consume_string(state, "\r\n")
    blanks = 0
    while peek(state, blanks) in (" ", "\t"):
        blanks += 1
    if blanks == 0:
        state.head = start  # a CRLF alone is not LWS: give it back
        return False
    state.head += blanks
    return True


def consume_lwses(state: ParsingState) -> None:
    """Take every LWS at the head (``*LWS``)."""
    while consume_lws(state):
        pass


def consume_token(state: ParsingState) -> str | None:
    """Take the longest token at the head, or return None if there is none."""
    length = 0
    while (c := peek(state, length)) is not None and _is_token_char(c):
        length += 1
    return consume(state, length) if length else None


def _consume_quoted_string(state: ParsingState) -> str | None:
    """The unquoted text of the quoted-string at the head (which starts with ``"``), or None.

    Each LWS inside counts as one space; ``\\`` makes the next CHAR literal; a CTL
    outside a quoted-pair, or no closing quote, is not a quoted-string.
    """
    start = state.head
    state.head += 1  # the opening quote
    text: list[str] = []
    while True:
        if consume_lws(state):
            text.append(" ")
            continue
        c = consume(state)
        if c == '"':
            return "".join(text)
        if c == "\\":
            c = consume(state)
            if c is not None and _is_char(c):
                text.append(c)
                continue
        elif c is not None and not _is_ctl(c):
            text.append(c)
            continue
        state.head = start
        return None


def consume_token_or_quoted_string(state: ParsingState) -> str | None:
    """Take a token, or a quoted-string (returned unquoted); None (nothing taken) for neither."""
    if peek(state) == '"':
        return _consume_quoted_string(state)
    return consume_token(state)


def quote_if_necessary(s: str) -> str:
    """``s`` as a token when it is one, else as a quoted-string (``""`` for the empty string).

    ``"`` and control characters are escaped with ``\\``; a backslash itself is not,
    as in pywebsocket3.
    """
    if s == "":
        return '""'
    if all(_is_token_char(c) for c in s):
        return s
    return '"' + "".join("\\" + c if _needs_escape(c) else c for c in s) + '"'


def parse_uri(uri: str) -> tuple[str | None, int | None, str | None]:
    """``(host, port, resource)`` of a ``ws://`` or ``wss://`` URI (the scheme's port by default).

    Any other string is taken as a relative URI: ``(None, None, uri)``. A ws URI without a
    host, or with a port that is not a number, gives ``(None, None, None)``.
    """
    parts = urlsplit(uri)
    if parts.scheme not in _DEFAULT_PORTS:
        return None, None, uri
    if parts.hostname is None:
        return None, None, None
    try:
        port = parts.port
    except ValueError:
        return None, None, None
    resource = parts.path or "/"
    if parts.query:
        resource += "?" + parts.query
    if parts.fragment:
        resource += "#" + parts.fragment
    return parts.hostname, port if port is not None else _DEFAULT_PORTS[parts.scheme], resource
