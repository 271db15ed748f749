"""Announcing staged files on NATS JetStream, best effort.

The broker may be down when the simulator starts and may go away and come back while it
runs; the connection is retried for ever in the background. An event that cannot be
published now is logged and dropped, never queued: staging must not wait on the broker,
and the librarian falls back to polling the file status.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.js.api import StorageType, StreamConfig

from librarian_server.stores.tape.base import StageEvent

log = logging.getLogger(__name__)

PUBLISH_TIMEOUT = 2.0
MAX_IN_FLIGHT = 256


class EventPublisher:
    def __init__(self, url: str, subject_prefix: str, stream: str) -> None:
        self.url = url
        self.prefix = subject_prefix
        self.stream = stream
        self.published = 0
        self.failures = 0
        self._nc: Client | None = None
        self._stream_ready = False
        self._stream_lock = asyncio.Lock()
        self._slots = asyncio.Semaphore(MAX_IN_FLIGHT)
        self._tasks: set[asyncio.Task[None]] = set()
        self._connector: asyncio.Task[None] | None = None
        self._closing = False

    @property
    def connected(self) -> bool:
        return self._nc is not None and self._nc.is_connected

    async def start(self) -> None:
        self._connector = asyncio.create_task(self._connect())

    async def _connect(self) -> None:
        """Connect, retrying until the broker answers; nats-py then reconnects for ever."""
        while not self._closing:
            try:
                self._nc = await nats.connect(
                    self.url,
                    allow_reconnect=True,
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=0.5,
                    connect_timeout=2,
                    error_cb=self._on_error,
                    disconnected_cb=self._on_disconnected,
                    reconnected_cb=self._on_reconnected,
                )
            except (TimeoutError, OSError, nats.errors.Error) as exc:
                log.warning("NATS at %s unreachable (%s); retrying", self.url, exc)
                await asyncio.sleep(1.0)
                continue
            log.info("connected to NATS at %s", self.url)
            await self._ensure_stream()
            return

    async def _on_error(self, exc: Exception) -> None:
        log.warning("NATS: %s", exc)

    async def _on_disconnected(self) -> None:
        log.warning("NATS at %s disconnected; events are dropped until it is back", self.url)

    async def _on_reconnected(self) -> None:
        log.info("reconnected to NATS at %s", self.url)
        self._stream_ready = False  # a broker with a fresh store has lost the stream

    async def _ensure_stream(self) -> bool:
        """Create the stream if missing (an existing one is left as its owner set it)."""
        nc = self._nc
        if nc is None or not nc.is_connected:
            return False
        async with self._stream_lock:
            if self._stream_ready:
                return True
            js = nc.jetstream(timeout=PUBLISH_TIMEOUT)
            try:
                try:
                    await js.stream_info(self.stream)
                except nats.js.errors.NotFoundError:
                    config = StreamConfig(
                        name=self.stream,
                        subjects=[f"{self.prefix}.>"],
                        storage=StorageType.FILE,
                    )
                    with contextlib.suppress(nats.js.errors.BadRequestError):
                        await js.add_stream(config)  # lost a race: the other one stands
                    log.info("JetStream stream %s for %s.> is ready", self.stream, self.prefix)
            except (TimeoutError, nats.errors.Error) as exc:
                log.warning("cannot set up the JetStream stream %s: %s", self.stream, exc)
                return False
            self._stream_ready = True
            return True

    def publish(self, event: StageEvent) -> None:
        """Send the event in the background; drop it at once if the broker is away."""
        nc = self._nc
        if self._closing or nc is None or not nc.is_connected:
            self.failures += 1
            log.warning("NATS unavailable: dropped the %s event for %s", event.status, event.path)
            return
        task = asyncio.create_task(self._send(nc, event))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, nc: Client, event: StageEvent) -> None:
        subject = f"{self.prefix}.{event.status}"
        async with self._slots:
            try:
                if not self._stream_ready and not await self._ensure_stream():
                    raise nats.errors.NoRespondersError
                js = nc.jetstream(timeout=PUBLISH_TIMEOUT)
                await js.publish(subject, event.model_dump_json().encode(), stream=self.stream)
            except (TimeoutError, OSError, nats.errors.Error) as exc:
                self.failures += 1
                log.warning("publishing the event for %s failed (%r); dropped", event.path, exc)
                return
        self.published += 1

    async def close(self) -> None:
        self._closing = True
        if self._connector is not None:
            self._connector.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._connector
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=PUBLISH_TIMEOUT)
        if self._nc is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._nc.close(), timeout=PUBLISH_TIMEOUT)
