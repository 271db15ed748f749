"""Long disk work streamed as progress: the work runs in its own thread.

Writing or reading a disk takes minutes to hours. The request answers at once
with newline-delimited JSON events: a start line with the totals, a progress line
about twice a second (also while one large file is copied, so the connection
never goes quiet), and a final line with the summary, or an error line with the status,
code, reason and remedy an error body would carry. If the client goes away
(Ctrl-C), the work is asked to stop at its next safe point and leaves the disk
and the catalogue consistent.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Literal

import anyio
from anyio import to_thread

from librarian_client.models import DiskEvent
from librarian_server.errors import LibrarianError

log = logging.getLogger(__name__)
TICK = 0.5


class Stopped(Exception):
    """The client went away: stop at this safe point."""


@dataclass
class Reporter:
    """What the work uses to report, and to learn that it should stop."""

    files: int = 0
    bytes: int = 0
    total_files: int | None = None
    total_bytes: int | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _started: threading.Event = field(default_factory=threading.Event)

    def start(self, total_files: int, total_bytes: int) -> None:
        self.total_files, self.total_bytes = total_files, total_bytes
        self._started.set()

    def add(self, nbytes: int = 0, nfiles: int = 0) -> None:
        self.bytes += nbytes
        self.files += nfiles
        if self._stop.is_set():
            raise Stopped()

    def snapshot(self, event: Literal["start", "progress"]) -> DiskEvent:
        return DiskEvent(
            event=event,
            files=self.files,
            bytes=self.bytes,
            total_files=self.total_files,
            total_bytes=self.total_bytes,
        )


async def stream(work: Callable[[Reporter], DiskEvent], name: str) -> AsyncIterator[bytes]:
    """Run ``work`` in a thread; yield its events as NDJSON lines until it returns.

    An async generator, so that a client that goes away cancels it at once; the work
    is then asked to stop and waited for, so it never runs on unseen.
    """
    reporter = Reporter()
    results: queue.Queue[DiskEvent] = queue.Queue()

    def run() -> None:
        try:
            results.put(work(reporter))
        except LibrarianError as exc:
            if exc.status_code >= 500:  # as the API's handler logs them
                level = logging.WARNING if exc.status_code == 507 else logging.ERROR
                log.log(level, "%s failed: %s: %s", name, type(exc).__name__, exc.reason)
            results.put(error_event(exc))
        except Exception as exc:
            log.exception("%s failed", name)
            results.put(error_event(LibrarianError(f"{type(exc).__name__}: {exc}")))
        finally:
            reporter._started.set()

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    try:
        while not reporter._started.is_set():
            await anyio.sleep(0.05)
        if reporter.total_files is not None:
            yield _line(reporter.snapshot("start"))
        while True:
            try:
                final = results.get_nowait()
            except queue.Empty:
                await anyio.sleep(TICK)
                if results.empty():
                    yield _line(reporter.snapshot("progress"))
                continue
            if reporter.total_files is not None:  # the final counts, so a bar ends full
                yield _line(reporter.snapshot("progress"))
            yield _line(final)
            return
    finally:
        reporter._stop.set()  # a no-op when the work is done; a clean stop when the client left
        with anyio.CancelScope(shield=True):
            await to_thread.run_sync(thread.join)


def error_event(exc: LibrarianError) -> DiskEvent:
    """The stream's last line when the work fails: what an error body would have said."""
    return DiskEvent(
        event="error",
        status=exc.status_code,
        code=exc.code,
        reason=exc.reason,
        suggested_remedy=exc.suggested_remedy,
    )


def _line(event: DiskEvent) -> bytes:
    return event.model_dump_json(exclude_none=True).encode() + b"\n"
