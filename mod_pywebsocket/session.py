"""One WebSocket session from handshake to close: the flow both adapters share.

``accept()`` runs the opening handshake and turns its failures into a
``Refusal`` the adapter answers in its own way (Apache returns the status,
the standalone server writes a response); ``serve()`` runs the handler with the
session registered, so a stopping server can close it with 1001.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from . import common, sessions
from .dispatch import DispatchException
from .errors import AbortedByUserException, HandshakeException, VersionException
from .handshake import do_handshake

_log = logging.getLogger("mod_pywebsocket.session")


@dataclass
class Refusal:
    status: int
    message: str
    headers: list[tuple[str, str]] = field(default_factory=list)


def refuse_plain_request(resource: str, dispatcher) -> Refusal | None:
    """A request without ``Upgrade: websocket``: 426 (saying how to upgrade) on a handler's
    resource; None for any other resource, which the adapter serves as plain HTTP."""
    try:
        suite = dispatcher.get_handler_suite(resource)
    except DispatchException:
        return None
    if suite is None:
        return None
    headers = [("Upgrade", common.WEBSOCKET_UPGRADE_TYPE), (common.SEC_WEBSOCKET_VERSION_HEADER, "13")]
    return Refusal(common.HTTP_STATUS_UPGRADE_REQUIRED, "this resource is a WebSocket handler", headers)


def accept(request, dispatcher) -> Refusal | None:
    """Handshake; None once the 101 is sent. Re-raises AbortedByUserException (drop the connection)."""
    try:
        do_handshake(request, dispatcher)
    except VersionException as e:
        _log.info("%s: handshake refused (%d): %s", request.ws_resource, e.status, e)
        return Refusal(e.status, str(e), [(common.SEC_WEBSOCKET_VERSION_HEADER, e.supported_versions)])
    except (HandshakeException, DispatchException) as e:
        _log.info("%s: handshake refused (%d): %s", request.ws_resource, e.status, e)
        return Refusal(e.status, str(e))
    except AbortedByUserException:
        _log.info("%s: handshake aborted by the handler", request.ws_resource)
        raise
    request._dispatcher = dispatcher
    return None


def serve(request, dispatcher) -> None:
    """Run the handler's transfer_data and the closing handshake; never raises."""
    try:
        with sessions.registered(request):
            dispatcher.transfer_data(request)
    except AbortedByUserException:
        _log.info("%s: connection aborted by the handler", request.ws_resource)
    except Exception:
        _log.exception("%s: unexpected error", request.ws_resource)
