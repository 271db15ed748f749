"""The site's event log: what happened, to what, by whom, in the transaction that did it.

Every kind an operator may subscribe to (a webhook) or read through the pull API
is written here, so that an event exists exactly when the change it announces was
committed. Administrators' actions are events too (kinds ``admin.*``): the audit log.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import insert, or_, select, update
from sqlalchemy.orm import Session

from librarian_server.orm.base import utcnow
from librarian_server.orm.event import Event, EventSequence

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
    rows = [
        {"time": now, "kind": kind, "actor": actor, "subject": subject, "detail": detail}
        for subject, detail in items
    ]
    if rows:  # one executemany, not an ORM object per file
        session.execute(insert(Event), rows)


def sequence(session: Session, *, limit: int = 10_000) -> int:
    """Give the next ``seq`` numbers to committed events that have none, in id order;
    returns how many. Serialised by locking the one ``EventSequence`` row, so two
    processes never give the same number and every number is given after its commit."""
    # The UPDATE takes the row's lock (SQLite: the write lock) before anything is read.
    session.execute(
        update(EventSequence).where(EventSequence.id == 1).values(last_seq=EventSequence.last_seq)
    )
    last = session.scalar(select(EventSequence.last_seq).where(EventSequence.id == 1))
    if last is None:
        session.add(EventSequence(id=1, last_seq=0))
        session.flush()
        last = 0
    ids = session.scalars(
        select(Event.id).where(Event.seq.is_(None)).order_by(Event.id).limit(limit)
    ).all()
    if not ids:
        return 0
    session.execute(
        update(Event),
        [{"id": event_id, "seq": last + n} for n, event_id in enumerate(ids, start=1)],
    )
    session.execute(
        update(EventSequence).where(EventSequence.id == 1).values(last_seq=last + len(ids))
    )
    return len(ids)


def read(
    session: Session,
    *,
    after: int,
    limit: int,
    kinds: Sequence[str] = (),
    include_admin: bool = True,
) -> list[Event]:
    """Sequenced events after ``after``, oldest first. ``kinds`` keeps those kinds (a kind
    ending in ``.`` or ``*`` keeps a family, e.g. ``admin.*``)."""
    query = select(Event).where(Event.seq > after).order_by(Event.seq).limit(limit)
    exact = [k for k in kinds if not k.endswith(("*", "."))]
    families = [k.rstrip("*") for k in kinds if k.endswith(("*", "."))]
    if kinds:
        query = query.where(
            or_(Event.kind.in_(exact), *(Event.kind.startswith(f) for f in families))
        )
    if not include_admin:
        query = query.where(~Event.kind.startswith(ADMIN_PREFIX))
    return list(session.scalars(query))


def last_seq(session: Session) -> int:
    return session.scalar(select(EventSequence.last_seq).where(EventSequence.id == 1)) or 0


def admin_actions(session: Session, *, before_id: int | None, limit: int) -> list[Event]:
    """Administrators' actions (kinds ``admin.*``), newest first, older than ``before_id``.

    Paged by id, not time: many events share a timestamp, never an id, so a page
    boundary repeats none.
    """
    query = select(Event).where(Event.kind.startswith(ADMIN_PREFIX, autoescape=True))
    if before_id is not None:
        query = query.where(Event.id < before_id)
    return list(session.scalars(query.order_by(Event.id.desc()).limit(limit)))
