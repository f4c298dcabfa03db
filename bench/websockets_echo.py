"""The `websockets` library's echo server, a reference in the benchmark.

python bench/websockets_echo.py [CERT KEY]    # prints "listening on 127.0.0.1:PORT"
"""

import asyncio
import ssl
import sys

from websockets.asyncio.server import serve


async def echo(websocket) -> None:
    async for message in websocket:
        await websocket.send(message)


async def main() -> None:
    context = None
    if len(sys.argv) == 3:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(sys.argv[1], sys.argv[2])
    async with serve(echo, "127.0.0.1", 0, ssl=context, max_size=None, compression="deflate") as server:
        port = server.sockets[0].getsockname()[1]
        print(f"listening on 127.0.0.1:{port}", flush=True)
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
