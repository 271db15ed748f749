"""Runs the background tasks on their cadence, in the server or as their own process.

Each task runs at start and then every ``every_seconds`` (the ``schedule``
library keeps time); one failing task is logged and retried on its next turn
without disturbing the others. ``run_once`` runs every enabled task once, for
operators and tests; ``run_task`` serves the admin "run now" endpoint.
``peer_transport`` carries every call to a peer (None: the network; sites in one
process route them to each other).
"""

from __future__ import annotations

import logging
import threading
import time

import httpx
import schedule
from sqlalchemy.orm import Session, sessionmaker

from librarian_client.models import TaskInfo, TaskRunResult
from librarian_server.background.staging import start_event_consumer
from librarian_server.background.task import Task, TaskContext
from librarian_server.background.tasks import all_tasks
from librarian_server.errors import NotFound
from librarian_server.metrics import counters as metrics
from librarian_server.orm import ErrorCategory, utcnow
from librarian_server.services.core.error_log import record_error
from librarian_server.services.core.task_runs import record_run
from librarian_server.services.replication.peers import PeerDialer
from librarian_server.settings import ServerSettings
from librarian_server.transfer import ManagerRegistry

log = logging.getLogger(__name__)


class Runner:
    def __init__(
        self,
        factory: sessionmaker[Session],
        settings: ServerSettings,
        *,
        managers: ManagerRegistry | None = None,
        tasks: list[Task] | None = None,
        peer_transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.factory = factory
        self.settings = settings
        self.managers = managers or ManagerRegistry.from_settings(settings)
        self.dialer = PeerDialer.for_settings(settings, peer_transport)
        self.tasks = {t.name: t for t in (tasks if tasks is not None else all_tasks())}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def infos(self) -> list[TaskInfo]:
        out = []
        for name in self.tasks:
            plan = getattr(self.settings.background, name)
            out.append(
                TaskInfo(
                    name=name,
                    enabled=plan.enabled,
                    every_seconds=plan.every_seconds,
                    time_limit_seconds=plan.time_limit_seconds,
                    batch_size=plan.batch_size,
                )
            )
        return out

    def run_task(self, name: str) -> TaskRunResult:
        task = self.tasks.get(name)
        if task is None:
            raise NotFound(
                f"No background task named {name!r}.",
                "Known tasks: " + ", ".join(sorted(self.tasks)) + ".",
            )
        ctx = TaskContext(
            self.factory,
            self.settings,
            self.managers,
            self.dialer,
            getattr(self.settings.background, name),
        )
        started_at = utcnow()
        started = time.monotonic()
        try:
            summary = task.run(ctx)
        except Exception as exc:
            seconds = time.monotonic() - started
            metrics.task_run(name, seconds, failed=True)
            log.exception("background task %s failed", name)
            error = f"{type(exc).__name__}: {exc}"
            record_error(
                self.factory,
                ErrorCategory.BACKGROUND,
                f"{name}: {error}",
                caller=f"background.{name}",
            )
            record_run(
                self.factory, name, started=started_at, seconds=seconds, summary={}, error=error
            )
            return TaskRunResult(name=name, ok=False, seconds=seconds, error=error)
        seconds = time.monotonic() - started
        metrics.task_run(name, seconds, failed=False)
        if any(summary.values()):
            log.info("background task %s: %s (%.2f s)", name, summary, seconds)
        record_run(
            self.factory, name, started=started_at, seconds=seconds, summary=summary, error=None
        )
        return TaskRunResult(name=name, ok=True, seconds=seconds, summary=summary)

    def enabled(self) -> list[str]:
        return [n for n in self.tasks if getattr(self.settings.background, n).enabled]

    def run_once(self) -> list[TaskRunResult]:
        return [self.run_task(name) for name in self.enabled()]

    def run_forever(self) -> None:
        """Until ``stop()``: every task at once, then each on its own cadence."""
        scheduler = schedule.Scheduler()
        for name in self.enabled():
            every = getattr(self.settings.background, name).every_seconds
            scheduler.every(every).seconds.do(self._guarded, name)
        events = start_event_consumer(self.factory, self.settings, self._stop)
        scheduler.run_all()
        while not self._stop.is_set():
            scheduler.run_pending()
            idle = scheduler.idle_seconds
            self._stop.wait(1.0 if idle is None else min(max(idle, 0.05), 5.0))
        if events is not None:
            events.join(10.0)

    def _guarded(self, name: str) -> None:
        if not self._stop.is_set():
            self.run_task(name)

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run_forever, name="librarian-background")
        self._thread.daemon = True
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
