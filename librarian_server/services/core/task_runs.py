"""Remember each background task's last run, and announce a failed run as an event."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from librarian_server.orm.base import utcnow
from librarian_server.orm.task_run import TaskRun
from librarian_server.services.core import events

log = logging.getLogger(__name__)


def record_run(
    factory: sessionmaker[Session],
    name: str,
    *,
    started: datetime,
    seconds: float,
    summary: dict[str, Any],
    error: str | None,
) -> None:
    """Never raises: a task's own result matters more than its bookkeeping."""
    safe = json.loads(json.dumps(summary, default=str))
    try:
        with factory.begin() as session:
            run = session.get(TaskRun, name, with_for_update=True)
            if run is None:
                run = TaskRun(name=name, runs=0, failures=0)
                session.add(run)
            run.last_started = started
            run.last_seconds = seconds
            run.last_ok = error is None
            run.last_summary = safe
            run.last_error = error
            run.runs += 1
            if error is not None:
                run.failures += 1
                run.last_failure_time = utcnow()
                events.record(
                    session,
                    events.TASK_FAILED,
                    actor="background",
                    subject=name,
                    detail={"error": error, "seconds": round(seconds, 3)},
                )
    except Exception:
        log.exception("could not record the run of background task %s", name)
