"""The opening handshake applied to a request: validate, ask the handler, answer 101.

``do_handshake(request, dispatcher)`` is the one entry both adapters use. It
raises ``HandshakeException`` (with ``.status``) for the adapter to turn into an
HTTP error, or ``AbortedByUserException`` when the handler wants the connection
dropped with nothing more written. ``base`` gives the checks (``core.handshake``)
and ``HandshakerBase``, ``hybi`` the RFC 6455 handshaker (``runtime.handshaker``).
"""

from __future__ import annotations

from ..core.errors import AbortedByUserException, HandshakeException, VersionException
from ..core.handshake import normalize_origin, parse_allowed_origins
from ..runtime.handshaker import Handshaker

__all__ = [
    "AbortedByUserException",
    "HandshakeException",
    "VersionException",
    "do_handshake",
    "normalize_origin",
    "parse_allowed_origins",
]


def do_handshake(
    request,
    dispatcher,
    allowDraft75: bool = False,  # noqa: N803
    strict: bool = False,
    *,
    options=None,
) -> None:
    """Run the whole server side of the opening handshake on ``request``.

    ``options`` (``stream.StreamOptions``): the stream's limits and the server's
    policy. ``allowDraft75`` and ``strict`` are accepted for old callers and ignored.
    """
    Handshaker(request, dispatcher, options).do_handshake()
