"""The opening handshake of RFC 9220: an extended CONNECT answered with ``:status 200``.

RFC 9220 carries RFC 8441 over to HTTP/3: the client's request is ``:method CONNECT``
with ``:protocol websocket`` (the listener routes on those before the flow starts),
``Sec-WebSocket-Version``, ``-Protocol`` and ``-Extensions`` mean what they mean in
RFC 6455, and there is no key, no accept, no ``Upgrade`` and no ``Connection``
(Chromium sends no ``sec-websocket-key``). The checks, the handler's
``web_socket_do_extra_handshake``, the extension negotiation and the stream are
``HandshakerBase``'s, as on the other transports; only the request line and the
answer are this transport's own.
"""

from __future__ import annotations

from ...core import constants
from ...core.errors import HandshakeException
from ...core.handshake import SERVER_TOKEN
from ...core.headers import format_extensions
from ...runtime.dispatcher import Dispatcher, HandlerSuite
from ...runtime.handshaker import HandshakerBase
from ...runtime.interfaces import Request
from ...runtime.stream_options import StreamOptions


class H3Handshaker(HandshakerBase):
    def _transform_header(self, header: str) -> str:
        return header.lower()  # HTTP/3 field names are lower case

    def _protocol_rfc(self) -> str:
        return "RFC 9220"

    def _validate_request(self) -> None:
        method = self._request.method
        if method != "CONNECT":
            raise HandshakeException(f"method must be CONNECT (RFC 9220), not {method!r}")

    def _set_accept(self) -> None:
        pass  # no key and no accept over HTTP/2 and 3

    def response_headers(self) -> list[tuple[bytes, bytes]]:
        request = self._request
        headers = [(b":status", b"200"), (b"server", SERVER_TOKEN.encode("ascii"))]
        if request.ws_protocol is not None:
            headers.append((constants.SEC_WEBSOCKET_PROTOCOL_HEADER.lower().encode(), request.ws_protocol.encode()))
        if request.ws_extensions:
            extensions = format_extensions(request.ws_extensions)
            headers.append((constants.SEC_WEBSOCKET_EXTENSIONS_HEADER.lower().encode(), extensions.encode()))
        for name, value in request.extra_headers:
            headers.append((name.lower().encode("latin-1"), value.encode("latin-1")))
        return headers

    def _send_handshake(self) -> None:
        self._request.connection.send_headers(self.response_headers())  # type: ignore[attr-defined]


def h3_handshake(request: Request, dispatcher: Dispatcher, options: StreamOptions, suite: HandlerSuite) -> None:
    """``flow.Handshake`` for HTTP/3."""
    H3Handshaker(request, dispatcher, options, suite).do_handshake()
