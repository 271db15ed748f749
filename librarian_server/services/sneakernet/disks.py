"""Disks out: what each holds, what the destination has confirmed, what is overdue."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from librarian_client.models import DiskInfo, RequeueResponse, TransferStatus
from librarian_server.errors import NotFound
from librarian_server.orm import OUTGOING_LIVE, OutgoingTransfer, QueueStatus, SendQueue, utcnow
from librarian_server.services.core.sql import execute_count
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
