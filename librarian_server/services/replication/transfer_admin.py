"""What operators see and do with transfers: list them, retry a failed one, cancel one."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Select, Update, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from librarian_client.models import (
    BulkRetryRequest,
    BulkRetryResponse,
    Direction,
    SendQueueInfo,
    TransferActionResponse,
    TransferListResponse,
    TransferRow,
    TransferStatus,
)
from librarian_server.errors import Conflict, InvalidRequest, NotFound, TransferRunning
from librarian_server.orm import (
    FINISHED_STATUSES,
    OUTGOING_LIVE,
    Checkin,
    IncomingTransfer,
    OutgoingTransfer,
    QueueStatus,
    SendQueue,
    utcnow,
)
from librarian_server.services.core.sql import execute_count, in_chunks


def _cursor(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise InvalidRequest(
            "The cursor is not valid.", "Pass next_cursor back unchanged."
        ) from None


def _newest_first(
    model: type[OutgoingTransfer] | type[IncomingTransfer],
    peer_column: Any,
    status: TransferStatus | None,
    peer: str | None,
    before: int | None,
    n: int,
) -> Select[Any]:
    query = select(model).order_by(model.id.desc()).limit(n)
    if status is not None:
        query = query.where(model.status == status)
    if peer is not None:
        query = query.where(peer_column == peer)
    if before is not None:
        query = query.where(model.id < before)
    return query


def _outgoing_row(t: OutgoingTransfer) -> TransferRow:
    return TransferRow(
        id=t.id,
        direction=Direction.OUTGOING,
        name=t.file_name,
        peer=t.destination,
        status=t.status,
        transfer_manager=t.transfer_manager,
        size=t.size,
        attempts=t.attempts,
        send_queue_id=t.send_queue_id,
        remote_transfer_id=t.remote_transfer_id,
        external_id=t.external_id,
        error=t.error,
        created_time=t.created_time,
        updated_time=t.updated_time,
    )


def _incoming_row(t: IncomingTransfer) -> TransferRow:
    return TransferRow(
        id=t.id,
        direction=Direction.INCOMING,
        name=t.name,
        peer=t.peer,
        status=t.status,
        transfer_manager=t.transfer_manager,
        size=t.expected_size,
        remote_transfer_id=t.source_transfer_id,
        error=t.error,
        created_time=t.created_time,
        updated_time=t.updated_time,
    )


def list_transfers(
    session: Session,
    *,
    direction: Direction,
    status: TransferStatus | None = None,
    peer: str | None = None,
    limit: int = 100,
    cursor: str | None = None,
) -> TransferListResponse:
    """Newest first, paged by id."""
    before = _cursor(cursor)
    if direction is Direction.OUTGOING:
        query = _newest_first(
            OutgoingTransfer, OutgoingTransfer.destination, status, peer, before, limit + 1
        )
        rows = [_outgoing_row(t) for t in session.scalars(query)]
    else:
        query = _newest_first(
            IncomingTransfer, IncomingTransfer.peer, status, peer, before, limit + 1
        )
        rows = [_incoming_row(t) for t in session.scalars(query)]
    more = len(rows) > limit
    rows = rows[:limit]
    return TransferListResponse(
        transfers=rows, next_cursor=str(rows[-1].id) if more and rows else None
    )


def _outgoing(session: Session, transfer_id: int) -> OutgoingTransfer:
    row = session.get(OutgoingTransfer, transfer_id)
    if row is None:
        raise NotFound(
            f"No outgoing transfer with id {transfer_id}.", "`librarian transfers` lists them."
        )
    return row


def retry_outgoing(session: Session, transfer_id: int) -> TransferActionResponse:
    """Send a failed or cancelled transfer again from scratch, or a waiting one now."""
    row = _outgoing(session, transfer_id)
    if row.status in (TransferStatus.FAILED, TransferStatus.CANCELLED):
        row.attempts = 0
        row.completed_time = None
    elif row.status is not TransferStatus.INITIATED or row.send_queue_id is not None:
        # A completed transfer is done for good; any other is still on its way.
        refusal = Conflict if row.status is TransferStatus.COMPLETED else TransferRunning
        raise refusal(
            f"Transfer {transfer_id} is {row.status.value}; only a failed, cancelled or "
            "waiting transfer can be retried.",
            "Wait for it to finish, or cancel it first.",
        )
    row.status = TransferStatus.INITIATED
    row.send_queue_id = None
    row.error = None
    row.next_attempt_at = utcnow()
    try:
        session.flush()
    except IntegrityError:
        raise TransferRunning(
            f"Another transfer of {row.file_name!r} to {row.destination} is under way.",
            "Let it finish.",
        ) from None
    return TransferActionResponse(id=row.id, status=row.status)


_RETRYABLE = (TransferStatus.FAILED, TransferStatus.CANCELLED, TransferStatus.INITIATED)


def retry_many(session: Session, request: BulkRetryRequest) -> BulkRetryResponse:
    """Send again, from scratch, every outgoing transfer matching the filter (oldest
    first, up to ``limit``): failed or cancelled ones get their attempts back, waiting
    ones go now. One whose file already has another transfer under way to the same
    peer is skipped and counted."""
    if request.status not in _RETRYABLE:
        raise InvalidRequest(
            f"Transfers that are {request.status.value} cannot be retried.",
            "Give --status FAILED, CANCELLED or INITIATED.",
        )
    query = select(OutgoingTransfer.id).where(OutgoingTransfer.status == request.status)
    if request.status is TransferStatus.INITIATED:
        query = query.where(OutgoingTransfer.send_queue_id.is_(None))
    if request.peer is not None:
        query = query.where(OutgoingTransfer.destination == request.peer)
    ids = list(session.scalars(query.order_by(OutgoingTransfer.id).limit(request.limit)))
    requeued = skipped = 0
    for chunk in in_chunks(ids):
        try:
            with session.begin_nested():
                requeued += execute_count(session, _requeue(chunk, request.status))
            continue
        except IntegrityError:
            pass  # some file is already under way again: one by one, skipping those
        for transfer_id in chunk:
            try:
                with session.begin_nested():
                    requeued += execute_count(session, _requeue([transfer_id], request.status))
            except IntegrityError:
                skipped += 1
    return BulkRetryResponse(requeued=requeued, skipped=skipped)


def _requeue(ids: list[int], status: TransferStatus) -> Update:
    values: dict[str, object] = {
        "status": TransferStatus.INITIATED,
        "send_queue_id": None,
        "error": None,
        "next_attempt_at": utcnow(),
        "updated_time": utcnow(),
    }
    if status is not TransferStatus.INITIATED:
        values |= {"attempts": 0, "completed_time": None}
    return (
        update(OutgoingTransfer)
        .where(OutgoingTransfer.id.in_(ids), OutgoingTransfer.status == status)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


def cancel_outgoing(session: Session, transfer_id: int, *, by: str) -> TransferActionResponse:
    """Stop sending; the peer drops what it staged when its hypervisor asks us."""
    row = _outgoing(session, transfer_id)
    if row.status not in OUTGOING_LIVE:
        raise Conflict(
            f"Transfer {transfer_id} is already {row.status.value}.", "Nothing to cancel."
        )
    row.status = TransferStatus.CANCELLED
    row.error = f"cancelled by {by}"
    row.completed_time = utcnow()
    return TransferActionResponse(id=row.id, status=row.status)


def list_queues(
    session: Session,
    *,
    status: QueueStatus | None = None,
    peer: str | None = None,
    limit: int = 100,
) -> list[SendQueueInfo]:
    query = select(SendQueue).order_by(SendQueue.id.desc()).limit(limit)
    if status is not None:
        query = query.where(SendQueue.status == status)
    if peer is not None:
        query = query.where(SendQueue.destination == peer)
    return [SendQueueInfo.model_validate(q) for q in session.scalars(query)]


def prune_history(session: Session, *, days: float) -> dict[str, int]:
    """Forget finished batches, completed transfers and delivered check-ins after ``days``.

    Failed and cancelled outgoing transfers stay: they stop a file being sent again
    until an operator retries it.
    """
    before = utcnow() - timedelta(days=days)
    queues = execute_count(
        session,
        delete(SendQueue).where(
            SendQueue.status.in_((QueueStatus.COMPLETED, QueueStatus.FAILED)),
            SendQueue.completed_time < before,
        ),
    )
    sent = execute_count(
        session,
        delete(OutgoingTransfer).where(
            OutgoingTransfer.status == TransferStatus.COMPLETED,
            OutgoingTransfer.completed_time < before,
        ),
    )
    received = execute_count(
        session,
        delete(IncomingTransfer).where(
            IncomingTransfer.status.in_(FINISHED_STATUSES),
            IncomingTransfer.updated_time < before,
        ),
    )
    checkins = execute_count(
        session, delete(Checkin).where(Checkin.delivered, Checkin.delivered_time < before)
    )
    return {
        "queues": queues,
        "outgoing": sent,
        "incoming": received,
        "checkins": checkins,
    }
