"""The opening handshake applied to a request: validate, ask the handler, answer 101.

``do_handshake(request, dispatcher)`` is the one entry both adapters use. It
raises ``HandshakeException`` (with ``.status``) for the adapter to turn into an
HTTP error, or ``AbortedByUserException`` when the handler wants the connection
dropped with nothing more written. ``base`` gives the checks (``core.handshake``)
and ``HandshakerBase``, ``hybi`` the RFC 6455 handshaker (``runtime.handshaker``);
``_LOGGER`` is the module's logger, as in pywebsocket3.
"""

from __future__ import annotations

import logging

from .. import common  # noqa: F401 - as pywebsocket3's handshake names it
from ..core.errors import AbortedByUserException, HandshakeException, VersionException
from ..core.handshake import normalize_origin, parse_allowed_origins
from ..runtime.handshaker import Handshaker
from . import base, hybi  # noqa: F401 - pywebsocket3's handshake has its submodules bound

_LOGGER = logging.getLogger(__name__)

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
    _LOGGER.debug("Client's opening handshake resource: %r", request.uri)
    Handshaker(request, dispatcher, options).do_handshake()
    _LOGGER.debug("Established (RFC 6455 protocol)")
