"""The simulated tape system's state: sessions, the stage queue and its workers, stats.

All state lives on the event loop's thread; file I/O runs on a thread pool. Stage requests
join one ordered queue (a path at most once) that several workers drain, so many small
files stage quickly while ``stage_delay`` and the shared bandwidth limit still apply.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import random
import secrets
import threading
import time
from collections import Counter, OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from librarian_server.stores.tape.base import StageEvent
from librarian_server.tape_simulator.events import EventPublisher
from librarian_server.tape_simulator.files import (
    Layout,
    Presence,
    Throttle,
    blocks,
    release_one,
    stage_one,
)

log = logging.getLogger(__name__)

BATCH = 16
"""The most files one worker stages in one go when there is no stage delay."""


@dataclass
class Stats:
    stage_requests: int = 0
    dropped: int = 0
    staged: int = 0
    errors: int = 0
    logins: int = 0
    per_path: Counter[str] = field(default_factory=Counter)


class Simulator:
    def __init__(
        self,
        layout: Layout,
        *,
        account: str,
        password_file: Path,
        token_ttl: float = 3600.0,
        stage_delay: float = 0.0,
        bandwidth_mib: float = 0.0,
        loss: float = 0.0,
        cache_capacity: int = 1 << 40,
        workers: int = 16,
        seed: int | None = None,
        publisher: EventPublisher | None = None,
    ) -> None:
        self.layout = layout
        self.account = account
        self.password_file = password_file
        self.token_ttl = token_ttl
        self.stage_delay = stage_delay
        self.loss = loss
        self.cache_capacity = cache_capacity
        self.throttle = Throttle(bandwidth_mib)
        self.publisher = publisher
        self.stats = Stats()
        self._workers = workers
        self._random = random.Random(seed)  # noqa: S311 (a simulation, not a secret)
        self._tokens: dict[str, float] = {}
        self._queue: OrderedDict[str, str] = OrderedDict()  # path -> relative path
        self._running: set[str] = set()
        self._wake = asyncio.Event()
        self._config_changed = asyncio.Event()
        self._stopping = threading.Event()
        self._pool = ThreadPoolExecutor(max(4, workers), thread_name_prefix="tapesim")
        self._tasks: list[asyncio.Task[None]] = []

    # -- life cycle

    async def start(self) -> None:
        if self.publisher is not None:
            await self.publisher.start()
        self._tasks = [asyncio.create_task(self._worker()) for _ in range(self._workers)]

    async def stop(self) -> None:
        self._stopping.set()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._pool.shutdown(wait=False, cancel_futures=True)
        if self.publisher is not None:
            await self.publisher.close()

    async def io(self, fn: Any, *args: Any) -> Any:
        """Run blocking file work on the pool, off the event loop."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    # -- sessions

    def login(self, account: str, password: str) -> str | None:
        try:
            expected = self.password_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            log.error("cannot read the password file %s: %s", self.password_file, exc)
            return None
        good_account = hmac.compare_digest(account.encode(), self.account.encode())
        good_password = hmac.compare_digest(password.encode(), expected.encode())
        if not (good_account and good_password and expected):
            return None
        now = time.monotonic()
        self._tokens = {t: end for t, end in self._tokens.items() if end > now}
        token = secrets.token_urlsafe(32)
        self._tokens[token] = now + self.token_ttl
        self.stats.logins += 1
        return token

    def valid_token(self, token: str) -> bool:
        end = self._tokens.get(token)
        return end is not None and end > time.monotonic()

    # -- run-time settings (tests change them)

    def configure(
        self,
        loss: float | None = None,
        stage_delay: float | None = None,
        bandwidth_mib: float | None = None,
    ) -> dict[str, float]:
        if loss is not None:
            self.loss = loss
        if stage_delay is not None:
            self.stage_delay = stage_delay
        if bandwidth_mib is not None:
            self.throttle.mib_per_s = bandwidth_mib
        # Wake the workers waiting out a delay, so they measure it against the new value.
        changed, self._config_changed = self._config_changed, asyncio.Event()
        changed.set()
        return self.config()

    def config(self) -> dict[str, float]:
        return {
            "loss": self.loss,
            "stage_delay": self.stage_delay,
            "bandwidth_mib": self.throttle.mib_per_s,
        }

    # -- requests

    def staging(self, path: str) -> bool:
        return path in self._queue or path in self._running

    def file_state(self, path: str, where: Presence) -> dict[str, Any]:
        size = where.size
        count = blocks(size) if size is not None else 0
        online = where.disk_size is not None
        return {
            "path": path,
            "exists": where.exists,
            "size": size,
            "onlineblocks": count if online else 0,
            "offlineblocks": 0 if online else count,
            "archdone": where.tape_size is not None,
            "staging": self.staging(path),
        }

    async def status(self, paths: dict[str, str]) -> list[dict[str, Any]]:
        presences: list[Presence] = await self.io(
            lambda: [self.layout.presence(rel) for rel in paths.values()]
        )
        return [self.file_state(p, w) for p, w in zip(paths, presences, strict=True)]

    async def stage(self, paths: dict[str, str]) -> list[dict[str, Any]]:
        """Queue the offline files; a file on neither disk nor tape is queued too, to end
        in an error event. A lost request looks accepted, as on a real system."""
        self.stats.stage_requests += len(paths)
        presences: list[Presence] = await self.io(
            lambda: [self.layout.presence(rel) for rel in paths.values()]
        )
        answer = []
        for (path, rel), where in zip(paths.items(), presences, strict=True):
            if where.disk_size is not None:
                result = "online"
            elif self.staging(path):
                result = "queued"
            elif self.loss > 0 and self._random.random() < self.loss:
                self.stats.dropped += 1
                result = "queued"
            else:
                self._queue[path] = rel
                result = "queued"
            answer.append({"path": path, "result": result})
        if self._queue:
            self._wake.set()
        return answer

    def cancel(self, paths: dict[str, str]) -> list[dict[str, Any]]:
        return [{"path": p, "cancelled": self._queue.pop(p, None) is not None} for p in paths]

    async def release(self, paths: dict[str, str]) -> list[dict[str, Any]]:
        answer: list[dict[str, Any]] = []
        for path, rel in paths.items():
            if self.staging(path):
                answer.append({"path": path, "result": "staging"})
                continue
            result, error = await self.io(release_one, self.layout, rel)
            row = {"path": path, "result": result}
            if error:
                row["error"] = error
            answer.append(row)
        return answer

    async def cache(self) -> dict[str, Any]:
        used: int = await self.io(self.layout.used_bytes)
        return {
            "capacity": self.cache_capacity,
            "used": used,
            "free": max(0, self.cache_capacity - used),
            "health": "ok",
        }

    def stats_body(self) -> dict[str, Any]:
        pub = self.publisher
        return {
            "stage_requests": self.stats.stage_requests,
            "dropped": self.stats.dropped,
            "staged": self.stats.staged,
            "errors": self.stats.errors,
            "published": pub.published if pub else 0,
            "publish_failures": pub.failures if pub else 0,
            "bus_connected": pub.connected if pub else False,
            "logins": self.stats.logins,
            "queued": len(self._queue),
            "running": len(self._running),
            "per_path": dict(self.stats.per_path),
        }

    # -- the workers

    async def _worker(self) -> None:
        while True:
            while not self._queue:
                self._wake.clear()
                await self._wake.wait()
            # Without a delay, take a few files at once: one thread hop for many small files.
            take = 1 if self.stage_delay > 0 else min(len(self._queue), BATCH)
            batch = [self._queue.popitem(last=False) for _ in range(take)]
            self._running.update(path for path, _ in batch)
            try:
                await self._wait_delay()
                results = await self.io(self._stage_batch, [rel for _, rel in batch])
            finally:
                self._running.difference_update(path for path, _ in batch)
            for (path, _), (size, error) in zip(batch, results, strict=True):
                self._finish(path, size, error)

    def _stage_batch(self, rels: list[str]) -> list[tuple[int | None, str | None]]:
        results: list[tuple[int | None, str | None]] = []
        for rel in rels:
            try:
                results.append(stage_one(self.layout, rel, self.throttle, self._stopping))
            except Exception as exc:  # one file's surprise must not lose the others
                log.exception("staging %s failed", rel)
                results.append((None, f"staging failed: {exc}"))
        return results

    async def _wait_delay(self) -> None:
        """Wait ``stage_delay`` from now, re-measured whenever the setting changes."""
        start = time.monotonic()
        while (remaining := start + self.stage_delay - time.monotonic()) > 0:
            changed = self._config_changed
            try:
                await asyncio.wait_for(changed.wait(), remaining)
            except TimeoutError:
                return

    def _finish(self, path: str, size: int | None, error: str | None) -> None:
        if error is None:
            self.stats.staged += 1
            self.stats.per_path[path] += 1
            event = StageEvent(path=path, status="staged", size=size)
        else:
            self.stats.errors += 1
            log.info("stage of %s failed: %s", path, error)
            event = StageEvent(path=path, status="error", error=error)
        if self.publisher is not None:
            self.publisher.publish(event)
