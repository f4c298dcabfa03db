"""The opening handshake applied to a request: validate, ask the handler, answer 101.

``do_handshake(request, dispatcher)`` is the one entry both adapters use. It
raises ``HandshakeException`` (with ``.status``) for the adapter to turn into an
HTTP error, or ``AbortedByUserException`` when the handler wants the connection
dropped with nothing more written.
"""

from __future__ import annotations

import logging

from .. import common
from ..errors import AbortedByUserException, HandshakeException, VersionException
from ..extensions import get_extension_processor, negotiate
from .base import build_response, check_selected_protocol, compute_accept, parse_client_handshake

__all__ = [
    "AbortedByUserException",
    "HandshakeException",
    "VersionException",
    "do_handshake",
    "normalize_origin",
    "parse_allowed_origins",
]

_log = logging.getLogger("mod_pywebsocket.handshake")


def do_handshake(request, dispatcher, allowDraft75: bool = False, strict: bool = False) -> None:  # noqa: N803
    """Run the whole server side of the opening handshake on ``request``.

    ``allowDraft75`` and ``strict`` are accepted for old callers and ignored.
    """
    from ..stream import Stream, StreamOptions

    http2 = request.protocol.startswith("HTTP/2")
    client = parse_client_handshake(request.method, request.protocol, request.headers_in, http2=http2)
    request.ws_version = client.version
    request.ws_origin = client.origin
    request.ws_requested_protocols = client.requested_protocols
    request.ws_requested_extensions = client.requested_extensions
    request.ws_protocol = None
    request.ws_extension_processors = [
        processor
        for processor in map(get_extension_processor, client.requested_extensions or ())
        if processor is not None
    ]
    request.extra_headers = []
    request._accept = compute_accept(client.key.encode("ascii"))
    options = getattr(request, "_stream_options", None) or StreamOptions()
    if options.allowed_origins is not None and client.origin is not None:
        if normalize_origin(client.origin) not in options.allowed_origins:
            raise HandshakeException(f"origin {client.origin!r} is not allowed", common.HTTP_STATUS_FORBIDDEN)

    try:
        dispatcher.do_extra_handshake(request)
    except (AbortedByUserException, HandshakeException):
        raise
    except Exception as e:
        raise HandshakeException(f"handler rejected the handshake: {e!r}", common.HTTP_STATUS_FORBIDDEN) from e

    check_selected_protocol(request.ws_requested_protocols, request.ws_protocol)
    request.ws_extensions, deflate = negotiate(request.ws_extension_processors or [])
    request.ws_stream = Stream(request, options, deflate)
    extensions = common.format_extensions(request.ws_extensions) if request.ws_extensions else None
    response = build_response(request._accept, request.ws_protocol, extensions, request.extra_headers)
    request.connection.write(response)
    _log.info(
        "established %s (RFC 6455%s) from %s",
        request.ws_resource,
        f", {extensions}" if extensions else "",
        _peer(request),
    )


def normalize_origin(origin: str) -> str:
    """Origins compare case-insensitively and without a trailing slash."""
    return origin.strip().rstrip("/").lower()


def parse_allowed_origins(value: str | None) -> frozenset[str] | None:
    """``"https://a.test, http://b.test:8000"`` -> a set for StreamOptions; empty -> None (any)."""
    origins = frozenset(normalize_origin(o) for o in (value or "").replace(",", " ").split())
    return origins or None


def _peer(request) -> str:
    try:
        addr = request.connection.remote_addr
        return f"{addr[0]}:{addr[1]}"
    except Exception:
        return "?"
