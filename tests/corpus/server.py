"""A hostile image server on 127.0.0.1, in a thread of its own, for the URL cases of the corpus.

Raw HTTP/1.1 written by hand (every answer closes the connection), so the server can misbehave
in ways a framework would not allow: never answer, stream forever, trickle, redirect anywhere.
"""

from __future__ import annotations

import asyncio
import gzip
import threading
from collections.abc import Awaitable, Callable

Route = Callable[[asyncio.StreamWriter], Awaitable[None]]


def _respond(status: str, headers: dict[str, str], body: bytes = b"") -> Route:
    async def route(writer: asyncio.StreamWriter) -> None:
        head = [f"HTTP/1.1 {status}", *(f"{k}: {v}" for k, v in headers.items()), "Connection: close", "", ""]
        writer.write("\r\n".join(head).encode() + body)
        await writer.drain()

    return route


def image(body: bytes, content_type: str = "image/png") -> Route:
    return _respond("200 OK", {"Content-Type": content_type, "Content-Length": str(len(body))}, body)


def redirect(location: str) -> Route:
    return _respond("302 Found", {"Location": location, "Content-Length": "0"})


def html() -> Route:
    body = b"<html><body>not an image</body></html>"
    return _respond("200 OK", {"Content-Type": "text/html", "Content-Length": str(len(body))}, body)


def gzipped(body: bytes) -> Route:
    packed = gzip.compress(body)
    headers = {"Content-Type": "image/png", "Content-Encoding": "gzip", "Content-Length": str(len(packed))}
    return _respond("200 OK", headers, packed)


async def never_answer(writer: asyncio.StreamWriter) -> None:
    await asyncio.sleep(3600)


async def endless(writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nConnection: close\r\n\r\n\x89PNG\r\n\x1a\n")
    chunk = bytes(64 * 1024)
    while True:
        writer.write(chunk)
        await writer.drain()


async def trickle(writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nConnection: close\r\n\r\n")
    while True:
        writer.write(b"\x00")
        await writer.drain()
        await asyncio.sleep(0.05)


_not_found = _respond("404 Not Found", {"Content-Length": "0"})


class HostileImageServer:
    """Serves ``routes`` (path -> route) on 127.0.0.1:``port`` until :meth:`stop`."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[str] = []
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="hostile-images", daemon=True)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        self._thread.start()
        server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._handle, "127.0.0.1", 0), self._loop
        ).result(10)
        self._server = server
        self.port = int(server.sockets[0].getsockname()[1])

    def stop(self) -> None:
        async def shutdown() -> None:
            assert self._server is not None
            self._server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            request_line = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")[0]
            path = request_line.split(" ")[1]
            self.requests.append(path)
            await self.routes.get(path, _not_found)(writer)
        except (ConnectionError, asyncio.IncompleteReadError, IndexError):
            pass
        finally:
            writer.close()
            self._tasks.discard(task)
