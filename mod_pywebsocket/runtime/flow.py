"""One WebSocket session from handshake to close: the flow both adapters share.

``handle_upgrade()`` is the whole flow for a request that asks for a WebSocket:
it looks the handler up once (one ``stat()`` of its file when reload is on), runs
the opening handshake and the handler, and returns the outcome: ``NOT_OURS`` (no
handler: the adapter serves the request as plain HTTP), a ``Refusal`` (status,
message, headers), ``ABORTED`` (drop the connection, nothing more written) or
``SERVED``. Each adapter only turns the outcome into its own kind of answer (Apache
returns a status, the standalone server writes a response). ``accept()`` and
``serve()`` are its two halves; ``serve()`` runs the handler with the session
registered, so a stopping server can close it with 1001.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from ..core import constants
from ..core.errors import AbortedByUserException, HandshakeException, VersionException
from . import capture_flow, compat, connection_summary, legacy_attributes, registry
from .blocking_stream import StreamOptions, runtime_stream
from .capacity import RETRY_AFTER, Capacity
from .connection_summary import ConnectionSummary, HandlerError, handler_error
from .dispatcher import Dispatcher, DispatchException, HandlerSuite
from .handshaker import do_handshake
from .interfaces import Request
from .log_format import connection_scope, current_connection, new_connection_id
from .suite_hooks import SuiteHooks

_log = logging.getLogger("mod_pywebsocket.session")


@dataclass
class Refusal:
    status: int
    message: str
    headers: list[tuple[str, str]] = field(default_factory=list)


class Outcome(enum.Enum):
    NOT_OURS = "not ours"  # no handler for the resource
    ABORTED = "aborted"  # AbortedByUserException: drop the connection
    SERVED = "served"  # the handshake succeeded and the handler ran


NOT_OURS, ABORTED, SERVED = Outcome.NOT_OURS, Outcome.ABORTED, Outcome.SERVED

#: An upgrade past the process's WebSocket limit (see capacity).
AT_CAPACITY = Refusal(
    503, "every WebSocket slot of this server is taken; retry later", [("Retry-After", str(RETRY_AFTER))]
)


#: How an adapter's transport does the opening handshake: ``do_handshake``'s signature
#: (RFC 6455 and Apache's RFC 8441; the HTTP/3 adapter has its own for RFC 9220).
Handshake = Callable[[Request, Dispatcher, StreamOptions, HandlerSuite], None]


def handle_upgrade(
    request: Request,
    dispatcher: Dispatcher,
    options: StreamOptions,
    on_accept: Callable[[], object] | None = None,
    capacity: Capacity | None = None,
    handshake: Handshake = do_handshake,
) -> Outcome | Refusal:
    """The flow of a WebSocket upgrade request, from handler lookup to close (see the module).

    ``on_accept()`` runs once the 101 is sent, before the handler (the standalone
    server sets its socket timeouts there). With ``capacity``, the connection holds
    one of its slots from the handshake to the end, and gets 503 when none is free.
    Every line logged meanwhile carries the connection's id (``log_format``).
    """
    with connection_scope(new_connection_id()):
        return _handle_upgrade(request, dispatcher, options, on_accept, capacity, handshake)


def _handle_upgrade(
    request: Request,
    dispatcher: Dispatcher,
    options: StreamOptions,
    on_accept: Callable[[], object] | None,
    capacity: Capacity | None,
    handshake: Handshake,
) -> Outcome | Refusal:
    try:
        suite = dispatcher.get_handler_suite(request.ws_resource)
    except DispatchException as e:  # a broken handler file (500), a bad path (400)
        broken = e.status == constants.HTTP_STATUS_INTERNAL_SERVER_ERROR
        if broken and not compat.active().broken_handler_is_500:
            return NOT_OURS  # pywebsocket3 never registered the file: served as plain HTTP
        return Refusal(e.status, str(e))
    if suite is None:
        return NOT_OURS
    if capacity is None:
        return _upgrade(request, dispatcher, options, on_accept, suite, handshake)
    if not capacity.claim():
        return AT_CAPACITY
    try:
        return _upgrade(request, dispatcher, options, on_accept, suite, handshake)
    finally:
        capacity.release()


def _upgrade(
    request: Request,
    dispatcher: Dispatcher,
    options: StreamOptions,
    on_accept: Callable[[], object] | None,
    suite: HandlerSuite,
    handshake: Handshake,
) -> Outcome | Refusal:
    """The handshake and the handler, both with ``suite``: the one lookup; then the
    connection's line in the log (and its capture, with ``WS_CAPTURE``)."""
    summary = ConnectionSummary.start(current_connection(), request, suite.path)
    try:
        refusal = accept(request, dispatcher, options, suite, handshake)
    except AbortedByUserException:
        return ABORTED
    if refusal is not None:
        return refusal
    summary.accepted(request)
    stream = runtime_stream(request)  # None: a handler put a stream of its own in ws_stream
    capture = capture_flow.start(options.capture, request, summary) if stream is not None else None
    if stream is not None and (capture is not None or connection_summary.wanted()):
        stream.tap = capture or connection_summary.ByteCount()  # the bytes each way: recorded, or counted
    if on_accept is not None:
        on_accept()
    aborted, error = serve(request, suite)
    summary.ended(request, stream, error, aborted)
    capture_flow.finish(options.capture, capture, summary)
    summary.log()
    return SERVED


def refuse_plain_request(resource: str, dispatcher: Dispatcher) -> Refusal | None:
    """A request without ``Upgrade: websocket``: 426 (saying how to upgrade) on a handler's
    resource (pywebsocket3's profile: 400, its failed handshake); None for any other
    resource, which the adapter serves as plain HTTP."""
    try:
        suite = dispatcher.get_handler_suite(resource)
    except DispatchException:
        return None
    if suite is None:
        return None
    if not compat.active().upgrade_required_on_plain_get:
        return Refusal(constants.HTTP_STATUS_BAD_REQUEST, "Upgrade header does not contain 'websocket'")
    headers = [("Upgrade", constants.WEBSOCKET_UPGRADE_TYPE), (constants.SEC_WEBSOCKET_VERSION_HEADER, "13")]
    return Refusal(constants.HTTP_STATUS_UPGRADE_REQUIRED, "this resource is a WebSocket handler", headers)


def accept(
    request: Request,
    dispatcher: Dispatcher,
    options: StreamOptions,
    suite: HandlerSuite,
    handshake: Handshake = do_handshake,
) -> Refusal | None:
    """Handshake with ``suite``'s hooks; None once the 101 (or HTTP/2 and 3's 200) is
    sent. Re-raises AbortedByUserException (drop the connection)."""
    try:
        handshake(request, dispatcher, options, suite)
    except VersionException as e:
        status = compat.active().version_status
        _log.info("%s: handshake refused (%d): %s", request.ws_resource, status, e)
        return Refusal(status, str(e), [(constants.SEC_WEBSOCKET_VERSION_HEADER, e.supported_versions)])
    except (HandshakeException, DispatchException) as e:
        _log.info("%s: handshake refused (%d): %s", request.ws_resource, e.status, e)
        return Refusal(e.status, str(e))
    except AbortedByUserException:
        _log.info("%s: handshake aborted by the handler", request.ws_resource)
        raise
    legacy_attributes.set_dispatcher(request, dispatcher)  # as pywebsocket3's servers did, for handlers
    return None


def serve(request: Request, suite: HandlerSuite) -> tuple[bool, HandlerError | None]:
    """Run ``suite``'s transfer_data and the closing handshake; never raises. Returns
    whether the handler aborted the connection, and what it raised (logged once here or
    by ``SuiteHooks``, with the traceback)."""
    hooks = SuiteHooks(suite)
    aborted = False
    try:
        with registry.registered(request):
            hooks.transfer_data(request)
    except AbortedByUserException:
        _log.debug("%s: connection aborted by the handler", request.ws_resource)
        aborted = True
    except Exception as e:
        # The handler's own exception under pywebsocket3's profile (already logged), else
        # a fault of ours.
        if hooks.error is None:
            _log.exception("%s: error after the handshake; the connection is dropped", request.ws_resource)
            hooks.error = handler_error(e, None)
    finally:
        stream = runtime_stream(request)
        if stream is not None:
            stream.release_buffers()  # whatever the handler left unfinished
    return aborted, hooks.error
