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

SIGTERM or SIGINT closes every open WebSocket with 1001 and exits 0.
"""

from __future__ import annotations

import sys

from .adapters.standalone.cli import WebSocketServer, _parse_args_and_config, main

__all__ = ["WebSocketServer", "_parse_args_and_config", "main"]

if __name__ == "__main__":
    sys.exit(main())
