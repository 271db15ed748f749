"""The site's event log: what happened, to what, by whom, in the transaction that did it.

Every kind an operator may subscribe to (a webhook) or read (``GET /api/v2/events``)
is written here, so that an event exists exactly when the change it announces was
committed. Administrators' actions are events too (kinds ``admin.*``): the audit log.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from librarian_server.orm.base import utcnow
from librarian_server.orm.event import Event

FILE_COMMITTED = "file.committed"
FILE_DELETED = "file.deleted"
COPY_CONFIRMED = "copy.confirmed"
TRANSFER_FAILED = "transfer.failed"
BATCH_FAILED = "batch.failed"
DISK_OVERDUE = "disk.overdue"
TASK_FAILED = "task.failed"
DAMAGE_FOUND = "damage.found"
DAMAGE_REPAIRED = "damage.repaired"
STAGING_COMPLETE = "staging.complete"
STAGING_FAILED = "staging.failed"
ADMIN_PREFIX = "admin."


def record(
    session: Session,
    kind: str,
    *,
    actor: str,
    subject: str,
    detail: dict[str, Any] | None = None,
) -> None:
    """Add one event to the caller's transaction (flushed with it, never committed here)."""
    session.add(Event(time=utcnow(), kind=kind, actor=actor, subject=subject, detail=detail or {}))


def record_many(
    session: Session, kind: str, *, actor: str, items: Iterable[tuple[str, dict[str, Any]]]
) -> None:
    """Several events of one kind, e.g. one per file of a bulk commit."""
    now = utcnow()
    session.add_all(
        Event(time=now, kind=kind, actor=actor, subject=subject, detail=detail)
        for subject, detail in items
    )


def admin_actions(session: Session, *, before_id: int | None, limit: int) -> list[Event]:
    """Administrators' actions (kinds ``admin.*``), newest first, older than ``before_id``.

    Paged by id, not time: many events share a timestamp, never an id, so a page
    boundary repeats none.
    """
    query = select(Event).where(Event.kind.startswith(ADMIN_PREFIX, autoescape=True))
    if before_id is not None:
        query = query.where(Event.id < before_id)
    return list(session.scalars(query.order_by(Event.id.desc()).limit(limit)))
