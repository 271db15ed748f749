"""Asynchronous sends (Globus): submit a batch, then poll its task until it is over.

The submission id is stored before submitting, so a retry after a crash is the
same request to the service and not a second task. A task still running is
released at once and polled again later; one past the manager's deadline is
cancelled and its batch failed; one that succeeded is committed at the peer.
"""

from __future__ import annotations

import logging

from librarian_client.models import TransferStatus
from librarian_server.errors import LibrarianError
from librarian_server.metrics import counters as metrics
from librarian_server.orm import QueueStatus, SendQueue, utcnow
from librarian_server.services.replication import outgoing
from librarian_server.services.replication.claims import Lease, claim_queue
from librarian_server.services.replication.peer_health import note_healthy, queue_not_backing_off
from librarian_server.services.replication.send_outcomes import (
    BatchFailed,
    SendContext,
    close_failed_queue,
    close_settled,
    confirm,
    finish,
    load,
    settle_failure,
)
from librarian_server.transfer import AsyncStatus, Batch, TaskState, TransferManager

log = logging.getLogger(__name__)


def submit(
    ctx: SendContext, queue_id: int, manager: TransferManager, batch: Batch, lease: Lease
) -> None:
    with ctx.factory.begin() as session:
        queue = session.get(SendQueue, queue_id)
        assert queue is not None  # noqa: S101
        queue.submission_id = queue.submission_id or manager.new_submission_id()
        batch.submission_id = queue.submission_id
    result = manager.transfer_many(batch)
    with ctx.factory.begin() as session:
        queue = session.get(SendQueue, queue_id)
        assert queue is not None  # noqa: S101
        queue.external_id = result.external_id
        outgoing.retry_or_fail(session, result.failed, settings=ctx.settings.replication)
        if result.external_id is None:  # every file refused: there is nothing to poll
            close_failed_queue(
                session,
                queue,
                "nothing was submitted: every file was refused",
                files=len(batch.items),
            )
            queue.failed_count += len(result.failed)
        for row in outgoing.live_transfers(
            session, [i.transfer_id for i in batch.items if i.transfer_id not in result.failed]
        ):
            row.external_id = result.external_id
        lease.release(session)
    log.info(
        "batch %d: %d file(s) to %s submitted to %s as %s",
        queue_id,
        len(batch.items),
        queue.destination,
        manager.name,
        result.external_id,
    )


def poll_next(ctx: SendContext, polled: set[int] | None = None) -> dict[str, int] | None:
    """Claim one submitted batch, poll its task, finish it if it is over.

    ``polled`` collects the batches polled so far in this run and excludes them: a task
    still running is released at once, and would otherwise be polled again and again.
    """
    where = [SendQueue.external_id.is_not(None), queue_not_backing_off(utcnow())]
    if polled:
        where.append(SendQueue.id.not_in(polled))
    queue_id = claim_queue(
        ctx.factory,
        worker=ctx.worker,
        seconds=ctx.lease_seconds,
        status=QueueStatus.ONGOING,
        where=tuple(where),
    )
    if queue_id is None:
        return None
    if polled is not None:
        polled.add(queue_id)
    lease = Lease(ctx.factory, queue_id, ctx.worker, ctx.lease_seconds)
    queue, peer, rows = load(ctx, queue_id)
    if not rows:  # every file settled already (check-ins, a requeue): nothing to wait for
        return close_settled(ctx, queue_id, lease)
    manager = ctx.managers.get(queue.transfer_manager or "")
    try:
        if manager is None or not manager.asynchronous:
            raise BatchFailed(f"transfer manager {queue.transfer_manager!r} is not set up here")
        status = manager.status(queue.external_id or "")
        if status.state is TaskState.ACTIVE:
            return _still_active(ctx, queue, manager, status, lease)
        if status.state is TaskState.FAILED:
            detail = status.detail or "no detail"
            raise BatchFailed(f"{manager.name} task {queue.external_id} failed: {detail}")
        if peer is None or not peer.enabled:
            raise BatchFailed(f"peer {queue.destination!r} is not configured or is disabled")
        sent = {t.id: t.remote_transfer_id for t, _ in rows if t.status is TransferStatus.ONGOING}
        metrics.transfers(queue.destination, "sent", len(sent))  # the task moved the bytes
        with ctx.dialer.open(peer) as client:
            done, failed = confirm(ctx, client, manager.name, sent)
        note_healthy(ctx.factory, peer.name)
    except (BatchFailed, LibrarianError) as exc:
        reason = exc.reason if isinstance(exc, LibrarianError) else str(exc)
        return settle_failure(ctx, queue, exc, reason, lease)
    finish(ctx, queue_id, done, failed, lease)
    return {"confirmed": done, "failed": failed}


def _still_active(
    ctx: SendContext,
    queue: SendQueue,
    manager: TransferManager,
    status: AsyncStatus,
    lease: Lease,
) -> dict[str, int]:
    deadline = manager.deadline
    if deadline is not None and utcnow() - queue.created_time > deadline:
        manager.cancel(queue.external_id or "")
        raise BatchFailed(
            f"{manager.name} task {queue.external_id} did not finish within {deadline}"
            + (f" ({status.detail})" if status.detail else "")
        )
    with ctx.factory.begin() as session:
        row = session.get(SendQueue, queue.id)
        if row is not None:
            row.error = status.detail  # e.g. INACTIVE: credentials expired
        lease.release(session)
    return {"active": 1}
