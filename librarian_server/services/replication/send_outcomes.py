"""How a send ends: confirmed copies, failed files, and batches that could not go.

Three kinds of failure, three consequences:

* a file fails on its own (its bytes, a checksum mismatch, the peer refusing that
  file): one of its attempts is spent and it backs off, or fails for good;
* the peer as a whole cannot be reached (no answer, a timeout, a 5xx): the peer
  backs off, and the files go back to the pool to wait for it with their attempts
  untouched, so an outage of any length fails nothing;
* the transfer service is busy: the files wait one backoff step, no attempt spent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from librarian_client.models import (
    CloneCompleteItem,
    CloneCompleteRequest,
    CloneOutcome,
    CloneResult,
    TransferStatus,
)
from librarian_server.errors import LibrarianError
from librarian_server.orm import (
    OUTGOING_LIVE,
    ErrorCategory,
    File,
    OutgoingTransfer,
    Peer,
    QueueStatus,
    SendQueue,
    utcnow,
)
from librarian_server.services.core import events
from librarian_server.services.core.error_log import record_error
from librarian_server.services.replication import outgoing
from librarian_server.services.replication.claims import Lease
from librarian_server.services.replication.peer_health import is_outage, note_failure
from librarian_server.services.replication.peers import PeerDialer, note_contact
from librarian_server.settings import ServerSettings
from librarian_server.transfer import ManagerRegistry, TransferBusy
from librarian_server.transfer.peer_client import PeerClient

log = logging.getLogger(__name__)


class BatchFailed(Exception):
    """The batch as a whole cannot go now; every file in it is retried later."""


@dataclass
class SendContext:
    """What sending needs: the database, settings, managers, the way to peers, and who we are."""

    factory: sessionmaker[Session]
    settings: ServerSettings
    managers: ManagerRegistry
    dialer: PeerDialer
    worker: str

    @property
    def lease_seconds(self) -> float:
        return self.settings.replication.claim_seconds


Rows = list[tuple[OutgoingTransfer, File]]


def load(ctx: SendContext, queue_id: int) -> tuple[SendQueue, Peer | None, Rows]:
    """A claimed queue, its peer, and its live transfers with their files."""
    with ctx.factory() as session:
        queue = session.get(SendQueue, queue_id)
        assert queue is not None  # noqa: S101 - claimed just now
        peer = session.scalar(select(Peer).where(Peer.name == queue.destination))
        rows = [
            (t, f)
            for t, f in session.execute(
                select(OutgoingTransfer, File)
                .join(File, File.name == OutgoingTransfer.file_name)
                .where(
                    OutgoingTransfer.send_queue_id == queue_id,
                    OutgoingTransfer.status.in_(OUTGOING_LIVE),
                )
                .order_by(OutgoingTransfer.id)
            )
        ]
    return queue, peer, rows


def confirm(
    ctx: SendContext, client: PeerClient, manager: str, sent: dict[int, int | None]
) -> tuple[int, int]:
    """Ask the peer to commit what arrived; record its verdict. (confirmed, refused)

    ``sent`` maps our transfer ids to the peer's.
    """
    if not sent:
        return 0, 0
    request = CloneCompleteRequest(
        source=ctx.settings.site_name,
        transfer_manager=manager,
        files=[
            CloneCompleteItem(transfer_id=remote or 0, source_transfer_id=ours)
            for ours, remote in sent.items()
        ],
    )
    return record(ctx, client.complete(request).files)


def record(ctx: SendContext, results: list[CloneResult]) -> tuple[int, int]:
    done = [r.source_transfer_id for r in results if r.outcome is CloneOutcome.COMMITTED]
    later = [r.source_transfer_id for r in results if r.outcome is CloneOutcome.PENDING]
    refused = {
        r.source_transfer_id: f"the peer did not commit it ({r.outcome.value}): {r.reason}"
        for r in results
        if r.outcome not in (CloneOutcome.COMMITTED, CloneOutcome.PENDING)
    }
    with ctx.factory.begin() as session:
        # A copy counts only if it has the checksum we sent.
        expected = outgoing.live_checksums(session, done)
        wrong = {
            r.source_transfer_id: f"the peer committed {r.checksum}, not {want}"
            for r in results
            if (want := expected.get(r.source_transfer_id)) and r.checksum != want
        }
        outgoing.complete(session, [i for i in done if i not in wrong], site=ctx.settings.site_name)
        outgoing.set_status(session, later, TransferStatus.STAGED_AT_DEST)
        outgoing.retry_or_fail(session, refused | wrong, settings=ctx.settings.replication)
    return len(done) - len(wrong), len(refused) + len(wrong)


def close_settled(ctx: SendContext, queue_id: int, lease: Lease) -> dict[str, int]:
    """A submitted batch whose files all settled some other way: close it as it stands."""
    with ctx.factory.begin() as session:
        queue = session.get(SendQueue, queue_id)
        assert queue is not None  # noqa: S101 - claimed just now
        done = session.scalar(
            select(func.count()).where(
                OutgoingTransfer.send_queue_id == queue_id,
                OutgoingTransfer.status == TransferStatus.COMPLETED,
            )
        )
        queue.done_count = int(done or 0)
        queue.failed_count = max(queue.file_count - queue.done_count, 0)
        queue.status = QueueStatus.COMPLETED
        queue.completed_time = utcnow()
        lease.release(session)
    return {"confirmed": 0, "failed": 0}


def finish(ctx: SendContext, queue_id: int, done: int, failed: int, lease: Lease) -> None:
    with ctx.factory.begin() as session:
        queue = session.get(SendQueue, queue_id)
        if queue is not None:
            queue.status = QueueStatus.COMPLETED
            queue.done_count += done
            queue.failed_count += failed
            queue.completed_time = utcnow()
        lease.release(session)


def close_failed_queue(session: Session, queue: SendQueue, error: str, *, files: int) -> None:
    """The batch is over and failed: ``batch.failed``, once (a batch already FAILED
    is not announced again)."""
    if queue.status is not QueueStatus.FAILED:
        events.record(
            session,
            events.BATCH_FAILED,
            actor="replication",
            subject=str(queue.id),
            detail={"peer": queue.destination, "reason": error, "files": files},
        )
    queue.status = QueueStatus.FAILED
    queue.error = error
    queue.completed_time = utcnow()


def _close_failed(
    session: Session,
    queue_id: int,
    error: str,
    failed: int,
    lease: Lease,
    *,
    files: int,
    announce: bool = True,
) -> None:
    row = session.get(SendQueue, queue_id)
    if row is not None:
        if announce:
            close_failed_queue(session, row, error, files=files)
        else:
            row.status = QueueStatus.FAILED
            row.error = error
            row.completed_time = utcnow()
        row.failed_count += failed
    lease.release(session)


def fail_batch(ctx: SendContext, queue: SendQueue, reason: str, lease: Lease) -> dict[str, int]:
    """The batch failed in a way that may be its files' doing: each spends an attempt."""
    with ctx.factory.begin() as session:
        ids = outgoing.live_in_queue(session, queue.id)
        retried, failed = outgoing.retry_or_fail(
            session, dict.fromkeys(ids, reason), settings=ctx.settings.replication
        )
        _close_failed(session, queue.id, reason, len(ids), lease, files=len(ids))
    record_error(
        ctx.factory,
        ErrorCategory.REPLICATION,
        f"batch {queue.id} of {len(ids)} file(s) to {queue.destination} failed: {reason}",
        caller="replication.send",
    )
    return {"retried": retried, "failed": failed}


def peer_unreachable(
    ctx: SendContext, queue: SendQueue, reason: str, lease: Lease
) -> dict[str, int]:
    """The peer could not take the batch: it backs off, and the files wait for its next
    attempt in the pool, their attempts unchanged."""
    after = note_failure(ctx.factory, queue.destination, reason, ctx.settings.replication)
    with ctx.factory.begin() as session:
        ids = outgoing.live_in_queue(session, queue.id)
        waiting = outgoing.wait_for_peer(session, dict.fromkeys(ids, reason), until=after)
        _close_failed(session, queue.id, f"peer unreachable: {reason}", 0, lease, files=len(ids))
    return {"waiting": waiting}


def postpone_batch(ctx: SendContext, queue: SendQueue, reason: str, lease: Lease) -> dict[str, int]:
    """Nothing was sent and the manager is at its limit (e.g. Globus tasks in flight):
    the files wait one backoff and rejoin a batch, without spending an attempt, so a
    busy service never exhausts them."""
    with ctx.factory.begin() as session:
        ids = outgoing.live_in_queue(session, queue.id)
        postponed = outgoing.postpone(
            session, dict.fromkeys(ids, reason), settings=ctx.settings.replication
        )
        # Not a failure of anyone's: the files rejoin a batch later, nothing to announce.
        _close_failed(
            session, queue.id, f"postponed: {reason}", 0, lease, files=len(ids), announce=False
        )
    log.info("batch %d to %s postponed: %s", queue.id, queue.destination, reason)
    return {"postponed": postponed}


def settle_failure(
    ctx: SendContext, queue: SendQueue, exc: Exception, reason: str, lease: Lease
) -> dict[str, int]:
    """End a batch that raised ``exc`` the way its kind of failure calls for."""
    if isinstance(exc, TransferBusy):
        return postpone_batch(ctx, queue, reason, lease)
    if is_outage(exc):
        return peer_unreachable(ctx, queue, reason, lease)
    if isinstance(exc, LibrarianError):  # the peer answered, but refused the batch
        note_contact(ctx.factory, queue.destination, reason)
    return fail_batch(ctx, queue, reason, lease)
