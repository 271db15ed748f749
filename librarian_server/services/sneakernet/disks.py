"""Disks out: what each holds, what the destination has confirmed, what is overdue."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import exists, func, select, update
from sqlalchemy.orm import Session

from librarian_client.models import DiskInfo, RequeueResponse, TransferStatus
from librarian_server.errors import NotFound
from librarian_server.orm import (
    OUTGOING_LIVE,
    Event,
    OutgoingTransfer,
    QueueStatus,
    SendQueue,
    utcnow,
)
from librarian_server.services.core import events
from librarian_server.services.core.sql import execute_count, in_chunks
from librarian_server.settings import ServerSettings

MANAGER = "sneakernet"


def disks(session: Session, settings: ServerSettings, *, limit: int = 1000) -> list[DiskInfo]:
    queues = list(
        session.scalars(
            select(SendQueue)
            .where(SendQueue.transfer_manager == MANAGER, SendQueue.file_count > 0)
            .order_by(SendQueue.id.desc())
            .limit(limit)
        )
    )
    counts: dict[tuple[int, TransferStatus], int] = {}
    if queues:
        rows = session.execute(
            select(OutgoingTransfer.send_queue_id, OutgoingTransfer.status, func.count())
            .where(OutgoingTransfer.send_queue_id.in_([q.id for q in queues]))
            .group_by(OutgoingTransfer.send_queue_id, OutgoingTransfer.status)
        )
        counts = {(queue_id or 0, status): n for queue_id, status, n in rows}
    overdue_before = utcnow() - timedelta(days=settings.sneakernet.overdue_days)
    out = []
    for q in queues:
        confirmed = counts.get((q.id, TransferStatus.COMPLETED), 0)
        unconfirmed = sum(counts.get((q.id, s), 0) for s in OUTGOING_LIVE)
        out.append(
            DiskInfo(
                label=q.external_id or "",
                destination=q.destination,
                queue_id=q.id,
                created_time=q.created_time,
                files=q.file_count,
                bytes=q.total_bytes,
                confirmed=confirmed,
                unconfirmed=unconfirmed,
                returned=max(q.file_count - confirmed - unconfirmed, 0),
                overdue=unconfirmed > 0 and q.created_time < overdue_before,
            )
        )
    return out


def requeue(
    session: Session, settings: ServerSettings, label: str, *, overdue_only: bool = False
) -> RequeueResponse:
    """The disk's unconfirmed files go back to the pool, to be sent another way."""
    queue = session.scalar(
        select(SendQueue).where(
            SendQueue.transfer_manager == MANAGER, SendQueue.external_id == label
        )
    )
    if queue is None:
        raise NotFound(f"No disk labelled {label!r}.", "`librarian sneakernet status` lists them.")
    overdue = queue.created_time < utcnow() - timedelta(days=settings.sneakernet.overdue_days)
    if overdue_only and not overdue:
        return RequeueResponse(label=label, requeued=0)
    requeued = execute_count(
        session,
        update(OutgoingTransfer)
        .where(
            OutgoingTransfer.send_queue_id == queue.id,
            OutgoingTransfer.status.in_(OUTGOING_LIVE),
        )
        .values(
            status=TransferStatus.INITIATED,
            send_queue_id=None,
            transfer_manager=None,
            external_id=None,
            error=f"requeued: disk {label} was not confirmed",
            next_attempt_at=utcnow(),
            updated_time=utcnow(),
        )
        .execution_options(synchronize_session=False),
    )
    queue.status = QueueStatus.COMPLETED
    queue.error = f"{requeued} unconfirmed file(s) requeued for another route"
    queue.completed_time = utcnow()
    return RequeueResponse(label=label, requeued=requeued)


def announce_overdue(session: Session, settings: ServerSettings, *, limit: int = 1000) -> int:
    """A ``disk.overdue`` event for each disk that ``disks`` shows as overdue (out past
    ``sneakernet.overdue_days``, files still unconfirmed), once per disk: a label the
    log already names is passed over. The disks' rows are locked first (skipping those
    another worker holds), so two workers at once do not both announce one disk.
    Returns how many were announced."""
    overdue_before = utcnow() - timedelta(days=settings.sneakernet.overdue_days)
    unconfirmed = exists().where(
        OutgoingTransfer.send_queue_id == SendQueue.id,
        OutgoingTransfer.status.in_(OUTGOING_LIVE),
    )
    queues = list(
        session.scalars(
            select(SendQueue)
            .where(
                SendQueue.transfer_manager == MANAGER,
                SendQueue.external_id.is_not(None),
                SendQueue.created_time < overdue_before,
                unconfirmed,
            )
            .order_by(SendQueue.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    labels = [q.external_id or "" for q in queues]
    known: set[str] = set()
    for chunk in in_chunks(labels):
        known.update(
            session.scalars(
                select(Event.subject).where(
                    Event.kind == events.DISK_OVERDUE, Event.subject.in_(chunk)
                )
            )
        )
    due = [q for q in queues if (q.external_id or "") not in known]
    if not due:
        return 0
    counts = dict(
        session.execute(
            select(OutgoingTransfer.send_queue_id, func.count())
            .where(
                OutgoingTransfer.send_queue_id.in_([q.id for q in due]),
                OutgoingTransfer.status.in_(OUTGOING_LIVE),
            )
            .group_by(OutgoingTransfer.send_queue_id)
        ).all()
    )
    events.record_many(
        session,
        events.DISK_OVERDUE,
        actor="hypervisor",
        items=(
            (
                q.external_id or "",
                {
                    "peer": q.destination,
                    "queue_id": q.id,
                    "unconfirmed": int(counts.get(q.id, 0)),
                    "files": q.file_count,
                    "exported": q.created_time.isoformat(),
                    "overdue_days": settings.sneakernet.overdue_days,
                },
            )
            for q in due
        ),
    )
    return len(due)
