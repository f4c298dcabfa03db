"""pywebsocket3's ``websocket_server``: the standalone server's class, and its handlers map file.

``WebSocketServer`` is ``adapters.standalone.server``'s (the class ``standalone``
exports); ``WebSocketRequestHandler`` is ``request_handler``'s. ``_alias_handlers``
reads a ``--websock-handlers-map-file`` as pywebsocket3 did.
"""

from __future__ import annotations

import logging
import re

from . import dispatch, util  # noqa: F401 - as pywebsocket3's websocket_server names them
from .adapters.standalone.server import WebSocketServer
from .request_handler import WebSocketRequestHandler

__all__ = ["WebSocketRequestHandler", "WebSocketServer"]

_log = logging.getLogger(__name__)
_ALIAS_LINE = re.compile(r"(\S+)\s+(\S+)$")


def _alias_handlers(dispatcher, websock_handlers_map_file: str) -> None:
    """Add the aliases a map file lists to ``dispatcher``: one ``alias existing`` pair of
    resources per line; blank lines and lines starting with ``#`` are skipped, and a line
    that is not a pair, or names no handler, is logged and skipped."""
    with open(websock_handlers_map_file) as map_file:
        for line in map_file:
            if line.startswith("#") or line.isspace():
                continue
            pair = _ALIAS_LINE.match(line)
            if pair is None:
                _log.warning("Wrong format in map file: %s", line.rstrip("\n"))
                continue
            try:
                dispatcher.add_resource_path_alias(pair.group(1), pair.group(2))
            except dispatch.DispatchException as e:
                _log.error("%s", e)
