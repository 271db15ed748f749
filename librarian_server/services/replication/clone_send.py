"""Sending a batch to a peer: stage it there, move the bytes, have the peer commit.

One claimed send queue at a time: ask the peer to stage the whole batch (one
call), settle what it already has, hand the rest to the first transfer manager
valid at both ends, then ask the peer to commit the batch (one call) and record
the copies it confirms. Asynchronous managers (Globus) stop after submitting;
``clone_poll`` finishes their batches. How a failure ends (a file's attempt
spent, the peer backing off, the files postponed) is ``send_outcomes``' business.
A copy of ours found not to hash to its checksum while sending is marked bad at
once and never sent or served again.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from librarian_client.models import (
    CloneOutcome,
    CloneStageItem,
    CloneStageRequest,
    TransferStatus,
)
from librarian_server.errors import LibrarianError
from librarian_server.metrics import counters as metrics
from librarian_server.orm import Peer, QueueStatus, SendQueue, utcnow
from librarian_server.services.catalogue.copies import local_copies, mark_bad, mark_verified
from librarian_server.services.cold.jobs import on_tape_only, stage_in_background
from librarian_server.services.replication import outgoing
from librarian_server.services.replication.claims import Lease, claim_queue
from librarian_server.services.replication.clone_poll import poll_next, submit
from librarian_server.services.replication.peer_health import note_healthy, queue_not_backing_off
from librarian_server.services.replication.send_outcomes import (
    BatchFailed,
    Rows,
    SendContext,
    confirm,
    fail_batch,
    finish,
    load,
    settle_failure,
)
from librarian_server.transfer import Batch, SendItem, TransferError
from librarian_server.transfer.peer_client import PeerClient

log = logging.getLogger(__name__)

__all__ = ["BatchFailed", "Sender"]


class Sender(SendContext):
    """Sends claimed batches; polls submitted ones; fails those that cannot finish."""

    def send_next(self) -> dict[str, int] | None:
        """Claim one pending batch of a peer not backing off and send it; None when
        there is nothing to send now."""
        queue_id = claim_queue(
            self.factory,
            worker=self.worker,
            seconds=self.lease_seconds,
            status=QueueStatus.PENDING,
            new_status=QueueStatus.ONGOING,
            where=(queue_not_backing_off(utcnow()),),
        )
        if queue_id is None:
            return None
        return self.send(queue_id)

    def send(self, queue_id: int) -> dict[str, int]:
        lease = Lease(self.factory, queue_id, self.worker, self.lease_seconds)
        queue, peer, rows = load(self, queue_id)
        try:
            if peer is None or not peer.enabled:
                raise BatchFailed(f"peer {queue.destination!r} is not configured or is disabled")
            with self.dialer.open(peer) as client:
                done, failed = self._send(queue, peer, rows, client, lease)
            note_healthy(self.factory, peer.name)
        except (BatchFailed, TransferError, LibrarianError) as exc:
            reason = exc.reason if isinstance(exc, LibrarianError) else str(exc)
            return settle_failure(self, queue, exc, reason, lease)
        if done is None:  # handed to an asynchronous manager
            return {"submitted": len(rows)}
        finish(self, queue_id, done, failed, lease)
        return {"sent": done, "failed": failed}

    def poll_next(self, polled: set[int] | None = None) -> dict[str, int] | None:
        return poll_next(self, polled)

    def fail_batch(self, queue: SendQueue, reason: str, lease: Lease) -> dict[str, int]:
        return fail_batch(self, queue, reason, lease)

    def _stage_from_tape(self, peer: Peer, rows: Rows) -> Rows:
        """Files whose only copies here are on tape wait (back in the pool, attempts
        unchanged) while a staging job brings them onto disk; the others go on."""
        with self.factory.begin() as session:
            taped = on_tape_only(session, [t.file_name for t, _ in rows])
            if not taped:
                return rows
            job = stage_in_background(
                session,
                sorted(taped),
                owner=f"replication:{peer.name}",
                settings=self.settings,
                origin="replication",
            )
            outgoing.wait_for_peer(
                session,
                {
                    t.id: "on tape here: waiting for staging" + (f" (job {job})" if job else "")
                    for t, _ in rows
                    if t.file_name in taped
                },
                until=utcnow() + timedelta(seconds=self.settings.cold.poll_after_seconds),
            )
        return [(t, f) for t, f in rows if t.file_name not in taped]

    def _send(
        self,
        queue: SendQueue,
        peer: Peer,
        rows: Rows,
        client: PeerClient,
        lease: Lease,
    ) -> tuple[int | None, int]:
        """Returns (confirmed, failed), or (None, failed) once handed to an async manager."""
        rows = self._stage_from_tape(peer, rows)
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
                        open_source=source.open,
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
            submit(self, queue.id, manager, batch, lease)
            return None, failed
        result = manager.transfer_many(batch)
        copies = {i.transfer_id: sources[i.name].instance_id for i in items}
        with self.factory.begin() as session:
            outgoing.retry_or_fail(session, result.failed, settings=self.settings.replication)
            mark_verified(session, (copies[i] for i in result.sent), by="replication.send")
        mark_bad(
            self.factory,
            {copies[i]: detail for i, detail in result.bad_copies.items()},
            by="replication.send",
        )
        metrics.transfers(peer.name, "sent", len(result.sent))
        remote_ids = {i: answers[i].transfer_id for i in result.sent}
        confirmed, refused_now = confirm(self, client, manager.name, remote_ids)
        return len(present) + confirmed, failed + len(result.failed) + refused_now
