"""The server's side of an opening handshake on a request object: pywebsocket's flow and hooks.

``HandshakerBase.do_handshake()`` checks the request (``core.handshake``'s rules),
runs the handler's ``web_socket_do_extra_handshake``, negotiates extensions, creates
``request.ws_stream`` and has ``_send_handshake`` answer. ``Handshaker`` fills the
hooks for RFC 6455 (and for RFC 8441 as Apache's mod_http2 hands it over);
servers that bootstrap WebSockets over HTTP/2 or 3 themselves (wptserve) subclass
``HandshakerBase`` with their own. ``handshake``, ``handshake.base`` and
``handshake.hybi`` give these under pywebsocket's names.
"""

from __future__ import annotations

import base64
import logging
from typing import TYPE_CHECKING, Any

from ..core import constants
from ..core.deflate import PerMessageDeflate, get_extension_processor
from ..core.errors import AbortedByUserException, DispatchException, HandshakeException, VersionException
from ..core.extension_processor import ExtensionProcessorInterface, negotiate
from ..core.handshake import (
    ClientHandshake,
    build_response,
    check_connection_header,
    check_key,
    check_request_line,
    check_selected_protocol,
    check_upgrade_headers,
    check_version,
    compute_accept,
    normalize_origin,
    parse_extension_offers,
    parse_protocols,
)
from ..core.headers import format_extensions
from . import compat, legacy_attributes
from .blocking_stream import Stream, StreamOptions
from .interfaces import HandlerHooks, PassiveClosingHook, Request
from .request import WebSocketRequest
from .suite_hooks import SuiteHooks

if TYPE_CHECKING:
    from .handler_files import HandlerSuite


def parse_client_handshake(method: str, protocol: str, headers: Any, *, http2: bool = False) -> ClientHandshake:
    """Validate a client's opening handshake; raise HandshakeException with the status to answer.

    It runs the production checks, ``hybi.Handshaker``'s, in their order, on the
    request head alone (for tests, fuzzers and tools); ``headers`` needs only a
    case-insensitive ``get(name)``. As in production, the protocol decides whether the
    RFC 8441 rules apply (``HTTP/2...``: no Connection header, the key is the proxy's
    own); ``http2=True`` is kept for old callers and must agree with it.
    """
    if http2 and not protocol.startswith("HTTP/2"):
        raise ValueError(f"http2=True with protocol {protocol!r}")
    request = WebSocketRequest(
        method=method,
        unparsed_uri="/",
        protocol=protocol,
        headers_in=headers,
        connection=_NoConnection(),
        is_https=False,
    )
    Handshaker(request, None).check_client_handshake()
    version = request.ws_version
    assert version is not None  # the checks set it, or raise
    return ClientHandshake(
        key=headers.get(constants.SEC_WEBSOCKET_KEY_HEADER).strip(" \t"),
        version=version,
        origin=request.ws_origin,
        requested_protocols=request.ws_requested_protocols,
        requested_extensions=request.ws_requested_extensions,
    )


class _NoConnection:
    """The connection of a request head checked alone: there is nothing to read or write."""

    def read(self, n: int, /) -> bytes:
        raise ConnectionError("a request head checked alone has no connection")

    def write(self, data: bytes, /) -> None:
        raise ConnectionError("a request head checked alone has no connection")


_log = logging.getLogger("mod_pywebsocket.handshake")


class HandshakerBase:
    """The server's side of an opening handshake, on a request object; subclasses fill the hooks.

    ``do_handshake()`` validates, sets the ``ws_*`` attributes, runs the handler's
    ``web_socket_do_extra_handshake``, negotiates extensions, creates
    ``request.ws_stream`` and has ``_send_handshake`` answer. A HandshakeException
    without a status becomes 400.
    """

    def __init__(
        self,
        request: Request,
        dispatcher: HandlerHooks | None,
        options: StreamOptions | None = None,
        suite: HandlerSuite | None = None,
    ) -> None:
        """``suite``: the handler suite the caller looked up (the flow), whose hooks run;
        without it, ``dispatcher``'s ``do_extra_handshake(request)`` and
        ``passive_closing_handshake(request)``, which find it (pywebsocket3's embedders).
        ``options``: the stream's limits and the server's policy."""
        self._logger = _log
        self._request = request
        self._dispatcher = dispatcher  # pywebsocket3's name, for subclasses
        self._options = options
        self._hooks: HandlerHooks | None = dispatcher if suite is None else SuiteHooks(suite)

    # -- hooks --------------------------------------------------------------

    def _transform_header(self, header: str) -> str:
        """The name under which ``headers_in`` holds ``header`` (HTTP/2 servers lower-case)."""
        return header

    def _protocol_rfc(self) -> str:
        raise NotImplementedError

    def _validate_request(self) -> None:
        """Check the method, the request line and the upgrade headers."""
        raise NotImplementedError

    def _set_accept(self) -> None:
        """Check the key and keep the accept value for ``_send_handshake`` (``request._accept``;
        nothing to do over HTTP/2)."""
        raise NotImplementedError

    def _send_handshake(self) -> None:
        """Answer the client (or prepare the answer, for a server that sends it itself)."""
        raise NotImplementedError

    # -- the flow -----------------------------------------------------------

    def do_handshake(self) -> None:
        request = self._request
        request.ws_close_code = None
        request.ws_close_reason = None
        try:
            self.check_client_handshake()
            request.ws_extension_processors = self._get_extension_processors_requested()
            request.extra_headers = []
            options = self._stream_options()
            self._check_origin(options)
            self._do_extra_handshake()
            check_selected_protocol(request.ws_requested_protocols, request.ws_protocol)
            self._create_stream(options)
            self._send_handshake()
        except HandshakeException as e:
            if not e.status:
                e.status = constants.HTTP_STATUS_BAD_REQUEST
            raise
        extensions = format_extensions(request.ws_extensions) if request.ws_extensions else ""
        _log.debug(  # the connection's one info line comes at its end (connection_summary)
            "established %s (%s%s) from %s",
            request.ws_resource,
            self._protocol_rfc(),
            f", {extensions}" if extensions else "",
            _peer(request),
        )

    def check_client_handshake(self) -> None:
        """Every check of the client's request, in order, setting the ``ws_*`` attributes it reads.

        The first step of ``do_handshake``; ``parse_client_handshake`` runs it alone. The
        steps are pywebsocket3's hooks, which a subclass may override one by one.
        """
        request = self._request
        self._validate_request()
        request.ws_resource = request.uri
        request.ws_version = self._check_version()
        self._get_origin()
        self._set_protocol()
        self._parse_extensions()
        self._set_accept()

    def _header(self, name: str) -> str | None:
        return self._request.headers_in.get(self._transform_header(name))

    def _check_version(self) -> int:
        """13, or a VersionException with the active profile's status (426; pywebsocket3's
        400 under WS_COMPAT=pywebsocket3), for embedders that answer ``e.status`` too."""
        try:
            return check_version(
                self._request.headers_in, self._transform_header(constants.SEC_WEBSOCKET_VERSION_HEADER)
            )
        except VersionException as e:
            e.status = compat.active().version_status
            raise

    def _get_origin(self) -> None:
        self._request.ws_origin = self._header(constants.ORIGIN_HEADER)

    def _set_protocol(self) -> None:
        self._request.ws_protocol = None
        self._request.ws_requested_protocols = parse_protocols(self._header(constants.SEC_WEBSOCKET_PROTOCOL_HEADER))

    def _parse_extensions(self) -> None:
        self._request.ws_requested_extensions = parse_extension_offers(
            self._header(constants.SEC_WEBSOCKET_EXTENSIONS_HEADER)
        )

    def _get_extension_processors_requested(self) -> list[ExtensionProcessorInterface | None]:
        offers = self._request.ws_requested_extensions or ()
        rfc = compat.active().all_deflate_parameters
        processors = (get_extension_processor(offer, rfc_parameters=rfc) for offer in offers)
        return [p for p in processors if p is not None]

    def _process_extensions(self, stream_options: StreamOptions) -> PerMessageDeflate | None:
        """Pick the extension (``request.ws_extensions``) and return the permessage-deflate
        codec, or None; a processor of the handler's own gets to set up ``stream_options``."""
        request = self._request
        request.ws_extensions, accepted = negotiate(request.ws_extension_processors or [])
        codec = getattr(accepted, "codec", None)
        if codec is not None:
            deflate: PerMessageDeflate | None = codec()
            return deflate
        if accepted is not None:
            accepted.setup_stream_options(stream_options)
        return None

    def _stream_options(self) -> StreamOptions:
        return self._options or legacy_attributes.embedders_stream_options(self._request) or StreamOptions()

    def _check_origin(self, options: StreamOptions) -> None:
        origin = self._request.ws_origin
        if options.allowed_origins is not None and origin is not None:
            if normalize_origin(origin) not in options.allowed_origins:
                raise HandshakeException(f"origin {origin!r} is not allowed", constants.HTTP_STATUS_FORBIDDEN)

    def _do_extra_handshake(self) -> None:
        hooks = self._hooks
        if hooks is None:  # only parse_client_handshake's checks go without, and stop before this
            raise HandshakeException("no dispatcher and no handler suite to ask", constants.HTTP_STATUS_FORBIDDEN)
        try:
            hooks.do_extra_handshake(self._request)
        except (AbortedByUserException, HandshakeException, DispatchException):
            raise
        except Exception as e:
            raise HandshakeException(f"handler rejected the handshake: {e!r}", constants.HTTP_STATUS_FORBIDDEN) from e

    def _create_stream(self, options: StreamOptions) -> None:
        request = self._request
        if any(p is not None and getattr(p, "codec", None) is None for p in request.ws_extension_processors or ()):
            # A processor of the handler's own may install filters: options of this stream's own.
            options = options.for_one_connection()
        deflate = self._process_extensions(options)
        hooks = self._hooks
        passive_close: PassiveClosingHook | None = None if hooks is None else hooks.passive_closing_handshake
        request.ws_stream = Stream(request, options, deflate, passive_closing_handshake=passive_close)


def _peer(request: Request) -> str:
    try:
        addr: tuple[object, ...] = getattr(request.connection, "remote_addr", ())  # optional: interfaces.Connection
        return f"{addr[0]}:{addr[1]}"
    except Exception:
        return "?"


class Handshaker(HandshakerBase):
    """The RFC 6455 handshake, answered with a 101 written on ``request.connection``."""

    def _http2(self) -> bool:
        return self._request.protocol.startswith("HTTP/2")

    def _protocol_rfc(self) -> str:
        return "RFC 8441" if self._http2() else "RFC 6455"

    def _validate_request(self) -> None:
        http2 = self._http2()
        check_request_line(self._request.method, self._request.protocol, http2=http2)
        check_upgrade_headers(self._request.headers_in, http2=http2)

    def _validate_connection_header(self) -> None:
        """``Connection`` must list ``Upgrade`` (HTTP/1.1 only; part of ``_validate_request``)."""
        check_connection_header(self._request.headers_in)

    def _validate_key(self, key: str) -> bytes:
        """The key's 16 bytes; HandshakeException unless it is 16 bytes in base64."""
        check_key({constants.SEC_WEBSOCKET_KEY_HEADER: key})
        return base64.b64decode(key.strip(" \t"))

    def _get_key(self) -> bytes:
        """The client's Sec-WebSocket-Key, checked, as bytes."""
        return check_key(self._request.headers_in).encode("ascii")

    def _set_accept(self) -> None:
        legacy_attributes.set_accept(self._request, compute_accept(self._get_key()))

    def _create_handshake_response(self, accept: bytes) -> bytes:
        request = self._request
        extensions = format_extensions(request.ws_extensions) if request.ws_extensions else None
        return build_response(accept, request.ws_protocol, extensions, request.extra_headers)

    def _send_handshake(self) -> None:
        self._request.connection.write(self._create_handshake_response(legacy_attributes.accept_of(self._request)))


def do_handshake(
    request: Request,
    dispatcher: HandlerHooks | None,
    options: StreamOptions | None = None,
    suite: HandlerSuite | None = None,
) -> None:
    """Run the whole server side of the RFC 6455 opening handshake on ``request``, with
    ``suite``'s hooks when given, else ``dispatcher``'s (``HandshakerBase``)."""
    Handshaker(request, dispatcher, options, suite).do_handshake()
