"""A loopback TCP-to-TLS bridge, so a ws:// only client (kosoku) can test a wss:// server.

Each plain connection accepted on 127.0.0.1 is forwarded over a verified TLS
connection to the server, byte for byte: the server under test sees a real TLS
client; only the last hop to the test client is in the clear.
"""

from __future__ import annotations

import asyncio
import ssl
import threading


class TlsBridge:
    def __init__(self, host: str, port: int, context: ssl.SSLContext, server_hostname: str = "127.0.0.1") -> None:
        self._target = (host, port)
        self._context = context
        self._server_hostname = server_hostname
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="tls-bridge", daemon=True)
        self._server: asyncio.base_events.Server | None = None
        self.port = 0

    def __enter__(self) -> TlsBridge:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._handle, "127.0.0.1", 0), self._loop
        ).result(10)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def __exit__(self, *exc) -> None:
        async def stop() -> None:
            self._server.close()
            tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _handle(self, plain_reader: asyncio.StreamReader, plain_writer: asyncio.StreamWriter) -> None:
        try:
            tls_reader, tls_writer = await asyncio.wait_for(
                asyncio.open_connection(*self._target, ssl=self._context, server_hostname=self._server_hostname), 10
            )
        except (OSError, TimeoutError):
            plain_writer.close()
            return
        await asyncio.gather(self._pipe(plain_reader, tls_writer), self._pipe(tls_reader, plain_writer))

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(1 << 16):
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            try:
                writer.close()
            except OSError:
                pass
