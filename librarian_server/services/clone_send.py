"""Sending a batch to a peer: stage it there, move the bytes, have the peer commit.

One claimed send queue at a time: ask the peer to stage the whole batch (one
call), settle what it already has, hand the rest to the first transfer manager
valid at both ends, then ask the peer to commit the batch (one call) and record
the copies it confirms. Asynchronous managers (Globus) stop after submitting;
``poll_async`` finishes their batches. Any failure of the batch as a whole (the
peer unreachable, no common manager) sends its files back to the pool with a
backoff; a file that fails on its own does the same without holding up the rest.
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
    CloneStageItem,
    CloneStageRequest,
    TransferStatus,
)

from ..errors import LibrarianError
from ..orm import (
    OUTGOING_LIVE,
    ErrorCategory,
    File,
    Librarian,
    OutgoingTransfer,
    QueueStatus,
    SendQueue,
    utcnow,
)
from ..peer_client import PeerClient
from ..settings import ServerSettings
from ..transfer import (
    AsyncStatus,
    Batch,
    ManagerRegistry,
    SendItem,
    TaskState,
    TransferBusy,
    TransferError,
    TransferManager,
)
from . import outgoing
from .claims import Lease, claim_queue
from .copies import local_copies
from .credentials import CredentialBox
from .error_log import record_error
from .peers import note_contact, open_client

log = logging.getLogger(__name__)


class BatchFailed(Exception):
    """The batch as a whole cannot go now; every file in it is retried later."""


@dataclass
class Sender:
    """What sending needs: the database, settings, managers, keys and who we are."""

    factory: sessionmaker[Session]
    settings: ServerSettings
    managers: ManagerRegistry
    box: CredentialBox
    worker: str

    @property
    def lease_seconds(self) -> float:
        return self.settings.replication.claim_seconds

    # -- synchronous path --------------------------------------------------------------

    def send_next(self) -> dict[str, int] | None:
        """Claim one pending batch and send it; None when there is nothing to send."""
        queue_id = claim_queue(
            self.factory,
            worker=self.worker,
            seconds=self.lease_seconds,
            status=QueueStatus.PENDING,
            new_status=QueueStatus.ONGOING,
        )
        if queue_id is None:
            return None
        return self.send(queue_id)

    def send(self, queue_id: int) -> dict[str, int]:
        lease = Lease(self.factory, queue_id, self.worker, self.lease_seconds)
        queue, peer, rows = self._load(queue_id)
        try:
            if peer is None or not peer.enabled:
                raise BatchFailed(f"peer {queue.destination!r} is not configured or is disabled")
            with open_client(peer, self.settings, self.box) as client:
                done, failed = self._send(queue, peer, rows, client, lease)
            note_contact(self.factory, peer.name)
        except TransferBusy as exc:
            return self.postpone_batch(queue, str(exc), lease)
        except (BatchFailed, TransferError, LibrarianError) as exc:
            reason = exc.reason if isinstance(exc, LibrarianError) else str(exc)
            return self.fail_batch(queue, reason, lease, peer_error=isinstance(exc, LibrarianError))
        if done is None:  # handed to an asynchronous manager
            return {"submitted": len(rows)}
        self._finish(queue_id, done, failed, lease)
        return {"sent": done, "failed": failed}

    def _load(
        self, queue_id: int
    ) -> tuple[SendQueue, Librarian | None, list[tuple[OutgoingTransfer, File]]]:
        with self.factory() as session:
            queue = session.get(SendQueue, queue_id)
            assert queue is not None  # noqa: S101 - claimed just now
            peer = session.scalar(select(Librarian).where(Librarian.name == queue.destination))
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

    def _send(
        self,
        queue: SendQueue,
        peer: Librarian,
        rows: list[tuple[OutgoingTransfer, File]],
        client: PeerClient,
        lease: Lease,
    ) -> tuple[int | None, int]:
        """Returns (confirmed, failed), or (None, failed) once handed to an async manager."""
        if not rows:
            return 0, 0
        staged = client.stage(
            CloneStageRequest(
                source=self.settings.site_name,
                files=[
                    CloneStageItem(
                        source_transfer_id=t.id,
                        name=t.file_name,
                        size=t.size,
                        checksum=t.checksum,
                        origin=f.source,
                        uploader=f.uploader,
                    )
                    for t, f in rows
                ],
            )
        )
        by_id = {t.id: t for t, _ in rows}
        answers = {a.source_transfer_id: a for a in staged.files}
        with self.factory() as session:
            sources = local_copies(session, [t.file_name for t, _ in rows])
        present: list[int] = []
        waiting: list[int] = []
        refused: dict[int, str] = {}
        conflicts: dict[int, str] = {}
        items: list[SendItem] = []
        for transfer_id, transfer in by_id.items():
            answer = answers.get(transfer_id)
            if answer is None:
                refused[transfer_id] = f"{peer.name} did not answer for this file at stage"
            elif answer.outcome is CloneOutcome.ALREADY_PRESENT:
                present.append(transfer_id)
            elif answer.outcome is CloneOutcome.PENDING:
                waiting.append(transfer_id)
            elif answer.outcome in (CloneOutcome.CONFLICT, CloneOutcome.REFUSED):
                conflicts[transfer_id] = f"{peer.name} refuses it: {answer.reason}"
            elif answer.outcome is not CloneOutcome.STAGED or answer.transfer_id is None:
                refused[transfer_id] = f"{peer.name} could not stage it: {answer.reason}"
            elif (source := sources.get(transfer.file_name)) is None:
                refused[transfer_id] = "no copy of the file is available on this site's stores"
            else:
                items.append(
                    SendItem(
                        transfer_id=transfer_id,
                        name=transfer.file_name,
                        size=transfer.size,
                        checksum=transfer.checksum,
                        source_path=source.path,
                        store_name=source.store_name,
                        store_root=source.store_root,
                        staged=answer,
                    )
                )
        manager = self.managers.choose(peer.transfer_managers, staged, items) if items else None
        with self.factory.begin() as session:
            outgoing.complete(session, present, site=self.settings.site_name)
            outgoing.set_status(session, waiting, TransferStatus.STAGED_AT_DEST)
            outgoing.retry_or_fail(session, refused, settings=self.settings.replication)
            outgoing.retry_or_fail(
                session, conflicts, settings=self.settings.replication, permanent=True
            )
            if manager is not None:
                outgoing.start_sending(
                    session, {i.transfer_id: i.staged.transfer_id for i in items}, manager.name
                )
                queue_row = session.get(SendQueue, queue.id)
                if queue_row is not None:
                    queue_row.transfer_manager = manager.name
        failed = len(refused) + len(conflicts)
        if not items:
            return len(present), failed
        if manager is None:
            raise BatchFailed(
                f"no transfer manager works for both sites: this site prefers "
                f"{self.managers.preference}, {peer.name} offers {staged.managers}"
                + (f" and is limited to {peer.transfer_managers}" if peer.transfer_managers else "")
            )
        batch = Batch(client, staged, items, f"librarian {self.settings.site_name}->{peer.name}")
        batch.heartbeat = lease.renew
        if manager.asynchronous:
            self._submit(queue.id, manager, batch, lease)
            return None, failed
        result = manager.transfer_many(batch)
        with self.factory.begin() as session:
            outgoing.retry_or_fail(session, result.failed, settings=self.settings.replication)
        remote_ids = {i: answers[i].transfer_id for i in result.sent}
        confirmed, refused_now = self._confirm(client, manager.name, remote_ids)
        return len(present) + confirmed, failed + len(result.failed) + refused_now

    def _confirm(
        self, client: PeerClient, manager: str, sent: dict[int, int | None]
    ) -> tuple[int, int]:
        """Ask the peer to commit what arrived; record its verdict. (confirmed, refused)

        ``sent`` maps our transfer ids to the peer's.
        """
        if not sent:
            return 0, 0
        request = CloneCompleteRequest(
            source=self.settings.site_name,
            transfer_manager=manager,
            files=[
                CloneCompleteItem(transfer_id=remote or 0, source_transfer_id=ours)
                for ours, remote in sent.items()
            ],
        )
        results = client.complete(request).files
        return self._record(results)

    def _record(self, results: list[CloneResult]) -> tuple[int, int]:
        done = [r.source_transfer_id for r in results if r.outcome is CloneOutcome.COMMITTED]
        later = [r.source_transfer_id for r in results if r.outcome is CloneOutcome.PENDING]
        refused = {
            r.source_transfer_id: f"the peer did not commit it ({r.outcome.value}): {r.reason}"
            for r in results
            if r.outcome not in (CloneOutcome.COMMITTED, CloneOutcome.PENDING)
        }
        with self.factory.begin() as session:
            # A copy counts only if it has the checksum we sent.
            expected = outgoing.live_checksums(session, done)
            wrong = {
                r.source_transfer_id: f"the peer committed {r.checksum}, not {want}"
                for r in results
                if (want := expected.get(r.source_transfer_id)) and r.checksum != want
            }
            outgoing.complete(
                session, [i for i in done if i not in wrong], site=self.settings.site_name
            )
            outgoing.set_status(session, later, TransferStatus.STAGED_AT_DEST)
            outgoing.retry_or_fail(session, refused | wrong, settings=self.settings.replication)
        return len(done) - len(wrong), len(refused) + len(wrong)

    def _close_settled(self, queue_id: int, lease: Lease) -> dict[str, int]:
        with self.factory.begin() as session:
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

    def _finish(self, queue_id: int, done: int, failed: int, lease: Lease) -> None:
        now = utcnow()
        with self.factory.begin() as session:
            queue = session.get(SendQueue, queue_id)
            if queue is not None:
                queue.status = QueueStatus.COMPLETED
                queue.done_count += done
                queue.failed_count += failed
                queue.completed_time = now
            lease.release(session)

    def fail_batch(
        self, queue: SendQueue, reason: str, lease: Lease, *, peer_error: bool
    ) -> dict[str, int]:
        with self.factory.begin() as session:
            ids = outgoing.live_in_queue(session, queue.id)
            retried, failed = outgoing.retry_or_fail(
                session, dict.fromkeys(ids, reason), settings=self.settings.replication
            )
            row = session.get(SendQueue, queue.id)
            if row is not None:
                row.status = QueueStatus.FAILED
                row.error = reason
                row.failed_count += len(ids)
                row.completed_time = utcnow()
            lease.release(session)
        record_error(
            self.factory,
            ErrorCategory.REPLICATION,
            f"batch {queue.id} of {len(ids)} file(s) to {queue.destination} failed: {reason}",
            caller="replication.send",
        )
        if peer_error:
            note_contact(self.factory, queue.destination, reason)
        return {"retried": retried, "failed": failed}

    def postpone_batch(self, queue: SendQueue, reason: str, lease: Lease) -> dict[str, int]:
        """Nothing was sent and the manager is at its limit (e.g. Globus tasks in flight):
        the files wait one backoff and rejoin a batch, without spending an attempt, so a
        busy service never exhausts them."""
        with self.factory.begin() as session:
            ids = outgoing.live_in_queue(session, queue.id)
            postponed = outgoing.postpone(
                session, dict.fromkeys(ids, reason), settings=self.settings.replication
            )
            row = session.get(SendQueue, queue.id)
            if row is not None:
                row.status = QueueStatus.FAILED
                row.error = f"postponed: {reason}"
                row.completed_time = utcnow()
            lease.release(session)
        log.info("batch %d to %s postponed: %s", queue.id, queue.destination, reason)
        return {"postponed": postponed}

    # -- asynchronous path --------------------------------------------------------------

    def _submit(self, queue_id: int, manager: TransferManager, batch: Batch, lease: Lease) -> None:
        with self.factory.begin() as session:
            queue = session.get(SendQueue, queue_id)
            assert queue is not None  # noqa: S101
            # Stored before submitting: a retry after a crash reuses it, so the service
            # sees the same request and does not start a second task.
            queue.submission_id = queue.submission_id or manager.new_submission_id()
            batch.submission_id = queue.submission_id
        result = manager.transfer_many(batch)
        with self.factory.begin() as session:
            queue = session.get(SendQueue, queue_id)
            assert queue is not None  # noqa: S101
            queue.external_id = result.external_id
            outgoing.retry_or_fail(session, result.failed, settings=self.settings.replication)
            if result.external_id is None:  # every file refused: there is nothing to poll
                queue.status = QueueStatus.FAILED
                queue.error = "nothing was submitted: every file was refused"
                queue.failed_count += len(result.failed)
                queue.completed_time = utcnow()
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

    def poll_next(self, polled: set[int] | None = None) -> dict[str, int] | None:
        """Claim one submitted batch, poll its task, finish it if it is over.

        ``polled`` collects the batches polled so far in this run and excludes them: a task
        still running is released at once, and would otherwise be polled again and again.
        """
        where = [SendQueue.external_id.is_not(None)]
        if polled:
            where.append(SendQueue.id.not_in(polled))
        queue_id = claim_queue(
            self.factory,
            worker=self.worker,
            seconds=self.lease_seconds,
            status=QueueStatus.ONGOING,
            where=tuple(where),
        )
        if queue_id is None:
            return None
        if polled is not None:
            polled.add(queue_id)
        lease = Lease(self.factory, queue_id, self.worker, self.lease_seconds)
        queue, peer, rows = self._load(queue_id)
        if not rows:  # every file settled already (check-ins, a requeue): nothing to wait for
            return self._close_settled(queue_id, lease)
        manager = self.managers.get(queue.transfer_manager or "")
        try:
            if manager is None or not manager.asynchronous:
                raise BatchFailed(f"transfer manager {queue.transfer_manager!r} is not set up here")
            status = manager.status(queue.external_id or "")
            if status.state is TaskState.ACTIVE:
                return self._still_active(queue, manager, status, lease)
            if status.state is TaskState.FAILED:
                detail = status.detail or "no detail"
                raise BatchFailed(f"{manager.name} task {queue.external_id} failed: {detail}")
            if peer is None or not peer.enabled:
                raise BatchFailed(f"peer {queue.destination!r} is not configured or is disabled")
            sent = {
                t.id: t.remote_transfer_id for t, _ in rows if t.status is TransferStatus.ONGOING
            }
            with open_client(peer, self.settings, self.box) as client:
                done, failed = self._confirm(client, manager.name, sent)
            note_contact(self.factory, peer.name)
        except (BatchFailed, LibrarianError) as exc:
            reason = exc.reason if isinstance(exc, LibrarianError) else str(exc)
            return self.fail_batch(queue, reason, lease, peer_error=isinstance(exc, LibrarianError))
        self._finish(queue_id, done, failed, lease)
        return {"confirmed": done, "failed": failed}

    def _still_active(
        self, queue: SendQueue, manager: TransferManager, status: AsyncStatus, lease: Lease
    ) -> dict[str, int]:
        deadline = manager.deadline
        if deadline is not None and utcnow() - queue.created_time > deadline:
            manager.cancel(queue.external_id or "")
            raise BatchFailed(
                f"{manager.name} task {queue.external_id} did not finish within {deadline}"
                + (f" ({status.detail})" if status.detail else "")
            )
        with self.factory.begin() as session:
            row = session.get(SendQueue, queue.id)
            if row is not None:
                row.error = status.detail  # e.g. INACTIVE: credentials expired
            lease.release(session)
        return {"active": 1}
