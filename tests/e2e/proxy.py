"""A TCP proxy on loopback that damages or slows bytes in flight, as a bad path would.

It relays HTTP/1.1 between a site and its peer, flipping the last byte of the
body of the first ``corrupt`` requests whose request line matches ``match`` (the
clone byte endpoints), and, with ``bytes_per_second``, throttling what it sends
upstream. Requests are framed by their Content-Length, which every request of
the peer protocol carries.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class FaultyProxy:
    def __init__(
        self,
        target_port: int,
        *,
        match: str = r"^(PUT /api/v2/clone/|POST /api/v2/clone/bundle )",
        corrupt: int = 0,
        bytes_per_second: float | None = None,
    ) -> None:
        self.target_port = target_port
        self.match = re.compile(match.encode())
        self.remaining = corrupt
        self.bytes_per_second = bytes_per_second
        self.corrupted: list[bytes] = []  # request lines that were damaged
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        server.close()
        pending = asyncio.all_tasks(self._loop)
        for task in pending:
            task.cancel()
        self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self._loop.run_until_complete(server.wait_closed())
        self._loop.close()

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            server_r, server_w = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            client_w.close()
            return
        upstream = asyncio.create_task(self._requests(client_r, server_w))
        downstream = asyncio.create_task(self._relay(server_r, client_w))
        try:
            await asyncio.wait({upstream, downstream}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (upstream, downstream):
                task.cancel()
            await asyncio.gather(upstream, downstream, return_exceptions=True)
            for writer in (client_w, server_w):
                writer.close()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(1 << 16):
            writer.write(data)
            await writer.drain()

    async def _requests(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line = head.split(b"\r\n", 1)[0]
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            damage = self.remaining > 0 and length > 0 and bool(self.match.search(request_line))
            if damage:
                self.remaining -= 1
                self.corrupted.append(request_line)
            writer.write(head)
            left = length
            while left > 0:
                chunk = await reader.read(min(left, 1 << 16))
                if not chunk:
                    return
                left -= len(chunk)
                if damage and left == 0:  # the body's last byte: file data, not a header
                    chunk = chunk[:-1] + bytes([chunk[-1] ^ 0xFF])
                writer.write(chunk)
                await writer.drain()
                if self.bytes_per_second:
                    await asyncio.sleep(len(chunk) / self.bytes_per_second)

    def start(self) -> None:
        self._thread.start()
        self._ready.wait(10)

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


@contextmanager
def proxy_to(
    target_port: int, *, corrupt: int = 0, bytes_per_second: float | None = None
) -> Iterator[FaultyProxy]:
    proxy = FaultyProxy(target_port, corrupt=corrupt, bytes_per_second=bytes_per_second)
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()
