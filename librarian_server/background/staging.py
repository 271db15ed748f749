"""staging: the cold stores' round (ask, poll, re-stage, expire, release), and the
consumer of the tape system's events, which runs beside the scheduled tasks."""

from __future__ import annotations

import logging
import threading
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from librarian_server.background.task import Task, TaskContext
from librarian_server.services.cold.rounds import handle_events, staging_round
from librarian_server.settings import ServerSettings
from librarian_server.stores.tape import StageEvent

log = logging.getLogger(__name__)


class Staging(Task):
    name = "staging"

    def run(self, ctx: TaskContext) -> dict[str, Any]:
        return staging_round(
            ctx.factory, ctx.settings, limit=ctx.batch_size, out_of_time=ctx.out_of_time
        )


def start_event_consumer(
    factory: sessionmaker[Session], settings: ServerSettings, stop: threading.Event
) -> threading.Thread | None:
    """Consume the tape system's per-file events until ``stop``; None when no bus is set.

    Messages are acknowledged only after ``handle_events`` committed, so a crash between
    the two redelivers them, and marking a copy ready twice changes nothing."""
    url = settings.cold.events_url
    if not url:
        return None
    from librarian_server.bus.nats import NatsEventSource

    source = NatsEventSource(
        url,
        durable=settings.cold.events_durable or f"librarian-{settings.site_name}",
        stream=settings.cold.events_stream,
        subject_prefix=settings.cold.events_subject_prefix,
    )

    def handle(events: list[StageEvent]) -> None:
        summary = handle_events(factory, events, settings)
        log.info("tape events: %s", summary)

    thread = threading.Thread(
        target=source.run, args=(handle, stop), name="librarian-tape-events", daemon=True
    )
    thread.start()
    return thread
