"""The request object handlers receive, the same under Apache and standalone.

Adapters build a ``WebSocketRequest`` from what their HTTP layer parsed and a
connection object (``interfaces.Connection``: ``read(n)``, ``write(bytes)``, and here
``remote_addr`` and ``local_addr`` too). It is the runtime's ``interfaces.Request``.
Under Apache, attributes this class lacks (``args``,
``err_headers_out``, ``log_error``, ...) fall through to mod_python's request,
so handlers written for mod_pywebsocket keep working.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from ..core.extension_processor import ExtensionProcessorInterface
    from ..core.headers import ExtensionParameter
    from .interfaces import Connection, MessageStream


def resource_from_target(target: str) -> str:
    """Path and query of a request target; an absolute ``ws://h/p?q`` gives ``/p?q``."""
    if target.startswith("/"):
        return target
    parts = urlsplit(target)
    if parts.scheme and parts.netloc:
        resource = parts.path or "/"
        if parts.query:
            resource += "?" + parts.query
        return resource
    return target


class WebSocketRequest:
    """One WebSocket request: HTTP facts plus the ``ws_*`` state of the session."""

    def __init__(
        self,
        *,
        method: str,
        unparsed_uri: str,
        protocol: str,
        headers_in: Any,
        connection: Connection,
        is_https: bool,
        native: Any = None,
    ) -> None:
        self._native = native
        self.method = method
        self.unparsed_uri = unparsed_uri
        self.uri = resource_from_target(unparsed_uri)
        self.protocol = protocol
        self.headers_in = headers_in
        self.connection = connection
        self._is_https = is_https
        self.ws_resource = self.uri
        self.ws_origin: str | None = None
        self.ws_version: int | None = None
        self.ws_protocol: str | None = None
        self.ws_requested_protocols: list[str] | None = None
        self.ws_requested_extensions: list[ExtensionParameter] | None = None
        self.ws_extensions: list[ExtensionParameter] | None = None
        self.ws_extension_processors: list[ExtensionProcessorInterface | None] = []
        self.ws_stream: MessageStream | None = None
        self.ws_close_code: int | None = None
        self.ws_close_reason: str | None = None
        self.server_terminated = False
        self.client_terminated = False
        self.extra_headers: list[tuple[str, str]] = []

    _logger = logging.getLogger("mod_pywebsocket.request")

    def is_https(self) -> bool:
        return self._is_https

    # pywebsocket3's standalone request had these getters and names too.

    def get_uri(self) -> str:
        return self.uri

    def get_unparsed_uri(self) -> str:
        return self.unparsed_uri

    def get_method(self) -> str:
        return self.method

    def get_protocol(self) -> str:
        return self.protocol

    @property
    def _use_tls(self) -> bool:
        return self._is_https

    def __getattr__(self, name: str) -> Any:
        native = self.__dict__.get("_native")
        if native is not None and not name.startswith("__"):
            return getattr(native, name)
        raise AttributeError(f"{type(self).__name__!s} has no attribute {name!r}")

    def __repr__(self) -> str:
        return f"<WebSocketRequest {self.method} {self.unparsed_uri}>"
