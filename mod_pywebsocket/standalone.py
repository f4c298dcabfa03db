"""``python -m mod_pywebsocket.standalone``: the handlers without Apache (``adapters.standalone``).

The flags are pywebsocket3's, and so is its embedding API (web-platform-tests'
``tools/serve`` uses it)::

    options, args = standalone._parse_args_and_config(["-p", "0", "-w", handlers])
    server = standalone.WebSocketServer(options)
    port = server._sockets[0][0].getsockname()[1]
    threading.Thread(target=server.serve_forever).start()
    ...
    server.shutdown()
    server.server_close()

SIGTERM or SIGINT closes every open WebSocket with 1001 and exits 0. pywebsocket3's
other names are here too: ``_build_option_parser()`` (the flags' parser, from
``adapters.standalone.cli``), ``_main(args)`` and the flags' ``_DEFAULT_*`` values.
"""

from __future__ import annotations

import sys

from . import common, server_util, util  # noqa: F401 - as pywebsocket3's standalone names them
from .adapters.standalone.cli import WebSocketServer, _parse_args_and_config, main
from .adapters.standalone.cli import _build_parser as _build_option_parser

__all__ = ["WebSocketServer", "_parse_args_and_config", "main"]

_DEFAULTS = _build_option_parser()
_DEFAULT_LOG_MAX_BYTES: int = _DEFAULTS.get_default("log_max")
_DEFAULT_LOG_BACKUP_COUNT: int = _DEFAULTS.get_default("log_count")
_DEFAULT_REQUEST_QUEUE_SIZE: int = _DEFAULTS.get_default("request_queue_size")
del _DEFAULTS


def _main(args: list[str] | None = None) -> None:
    """pywebsocket3's entry point: serve with ``args`` (default: the command line's) until
    stopped; exits with ``main``'s status if the server cannot start."""
    status = main(args)
    if status:
        sys.exit(status)


if __name__ == "__main__":
    sys.exit(main())
