"""A real proxy between Redis clients and a Redis server that adds a delay to every request.

It listens on a unix socket of its own and forwards bytes both ways; each chunk a
client sends is held for ``delay_s`` before it goes on to the server. With one
request per chunk (redis-py sends a command in one write), every Redis call takes
``delay_s`` longer -- which widens the race windows the concurrency suite looks for,
the way a busy network would. It runs on an asyncio loop in a thread of its own.
"""

from __future__ import annotations

import asyncio
import tempfile
import threading
from pathlib import Path


class LatencyProxy:
    """``with LatencyProxy(server_socket, delay_s=0.001) as proxy:`` -- connect to ``proxy.url``."""

    def __init__(self, server_socket: Path, delay_s: float) -> None:
        self.server_socket = Path(server_socket)
        self.delay_s = delay_s
        self.folder = Path(tempfile.mkdtemp(prefix="cachelab-proxy-"))
        self.socket = self.folder / "proxy.sock"
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._writers: list = []

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def __enter__(self) -> "LatencyProxy":
        self._thread.start()
        if not self._ready.wait(5):
            raise RuntimeError("the latency proxy did not start")
        return self

    def __exit__(self, *exc_info) -> None:
        self._loop.call_soon_threadsafe(self._close_connections)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self.socket.unlink(missing_ok=True)
        self.folder.rmdir()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(
            asyncio.start_unix_server(self._client, path=str(self.socket))
        )
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            server.close()
            pending = asyncio.all_tasks(self._loop)
            for task in pending:
                task.cancel()
            self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            self._loop.close()

    def _close_connections(self) -> None:
        for writer in self._writers:
            writer.close()

    async def _client(self, client_reader, client_writer) -> None:
        server_reader, server_writer = await asyncio.open_unix_connection(str(self.server_socket))
        self._writers += [client_writer, server_writer]
        await asyncio.gather(
            self._pump(client_reader, server_writer, self.delay_s),
            self._pump(server_reader, client_writer, 0.0),
            return_exceptions=True,
        )

    @staticmethod
    async def _pump(reader, writer, delay_s: float) -> None:
        try:
            while chunk := await reader.read(65_536):
                if delay_s:
                    await asyncio.sleep(delay_s)
                writer.write(chunk)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()
