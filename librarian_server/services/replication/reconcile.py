"""Hypervisors: transfers stuck past a deadline are settled by asking the other side.

At the source, a transfer with no progress for ``stuck_after_seconds`` (a lost
answer, a crashed worker, a check-in that never came) is looked up at the peer:
committed there means done, still verifying means wait, anything else means
send again. At the receiver, a clone idle that long is dropped, bytes and all,
once its sender says it no longer wants it; a verification whose worker died is
handed back to the background verifier.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from librarian_client.models import (
    CloneOutcome,
    CloneStatusRequest,
    OutgoingStatusRequest,
    TransferStatus,
)
from librarian_server.errors import LibrarianError
from librarian_server.orm import (
    AWAITING_PEER,
    OPEN_STATUSES,
    IncomingTransfer,
    OutgoingTransfer,
    Peer,
    QueueStatus,
    SendQueue,
    utcnow,
)
from librarian_server.services.core.sql import execute_count
from librarian_server.services.ingest.transfers import close_transfer
from librarian_server.services.replication import outgoing
from librarian_server.services.replication.claims import Lease, claim_queue
from librarian_server.services.replication.clone_send import Sender
from librarian_server.services.replication.peers import PeerDialer, note_contact
from librarian_server.settings import ServerSettings


def abandon_orphaned_batches(sender: Sender) -> int:
    """Batches whose worker stopped (its claim lapsed) are sent again or go back to the pool.

    One that has a submission id may have reached an asynchronous service (Globus)
    before the worker stopped: it is sent again with that id, so the service answers
    with the task it already has instead of starting a second one.
    """
    count = 0
    while True:
        queue_id = claim_queue(
            sender.factory,
            worker=sender.worker,
            seconds=sender.lease_seconds,
            status=QueueStatus.ONGOING,
            where=(SendQueue.external_id.is_(None), SendQueue.claimed_until.is_not(None)),
        )
        if queue_id is None:
            return count
        with sender.factory() as session:
            queue = session.get(SendQueue, queue_id)
            assert queue is not None  # noqa: S101
        if queue.submission_id is not None:
            sender.send(queue_id)
        else:
            lease = Lease(sender.factory, queue_id, sender.worker, sender.lease_seconds)
            reason = "the worker sending this batch stopped"
            sender.fail_batch(queue, reason, lease)
        count += 1


def reconcile_outgoing(
    factory: sessionmaker[Session],
    settings: ServerSettings,
    dialer: PeerDialer,
    *,
    limit: int,
    out_of_time: Callable[[], bool],
) -> dict[str, int]:
    stuck_before = utcnow() - timedelta(seconds=settings.replication.stuck_after_seconds)
    counts = {"confirmed": 0, "waiting": 0, "resent": 0}
    with factory() as session:
        busy = select(SendQueue.id).where(
            SendQueue.status == QueueStatus.ONGOING,
            or_(SendQueue.claimed_until > utcnow(), SendQueue.external_id.is_not(None)),
        )
        stuck = list(
            session.execute(
                select(OutgoingTransfer.id, OutgoingTransfer.destination)
                .where(
                    OutgoingTransfer.status.in_(AWAITING_PEER),
                    OutgoingTransfer.updated_time < stuck_before,
                    or_(
                        OutgoingTransfer.send_queue_id.is_(None),
                        OutgoingTransfer.send_queue_id.not_in(busy),
                    ),
                )
                .order_by(OutgoingTransfer.id)
                .limit(limit)
            )
        )
        peers = {p.name: p for p in session.scalars(select(Peer))}
    by_peer: dict[str, list[int]] = {}
    for transfer_id, destination in stuck:
        by_peer.setdefault(destination, []).append(transfer_id)
    for name, ids in by_peer.items():
        if out_of_time():
            break
        peer = peers.get(name)
        if peer is None:
            continue
        try:
            with dialer.open(peer) as client:
                answer = client.status(
                    CloneStatusRequest(source=settings.site_name, source_transfer_ids=ids)
                )
        except LibrarianError as exc:
            note_contact(factory, name, exc.reason)
            continue
        note_contact(factory, name)
        with factory.begin() as session:
            expected = {t.id: t.checksum for t in outgoing.live_transfers(session, ids)}
            done, waiting, again = [], [], {}
            for result in answer.files:
                key = result.source_transfer_id
                if key not in expected:
                    continue
                if result.outcome is CloneOutcome.COMMITTED and result.checksum == expected[key]:
                    done.append(key)
                elif result.outcome is CloneOutcome.PENDING:
                    waiting.append(key)
                else:
                    again[key] = f"stuck; {name} reports {result.outcome.value}" + (
                        f": {result.reason}" if result.reason else ""
                    )
            outgoing.complete(session, done, site=settings.site_name)
            outgoing.set_status(session, waiting, TransferStatus.STAGED_AT_DEST)
            outgoing.retry_or_fail(session, again, settings=settings.replication)
        counts["confirmed"] += len(done)
        counts["waiting"] += len(waiting)
        counts["resent"] += len(again)
    return counts


def reconcile_incoming(
    factory: sessionmaker[Session],
    settings: ServerSettings,
    dialer: PeerDialer,
    *,
    limit: int,
    out_of_time: Callable[[], bool],
) -> dict[str, int]:
    stuck_before = utcnow() - timedelta(seconds=settings.replication.stuck_after_seconds)
    with factory.begin() as session:
        requeued = execute_count(
            session,
            update(IncomingTransfer)
            .where(
                IncomingTransfer.peer.is_not(None),
                IncomingTransfer.status == TransferStatus.ONGOING,
                IncomingTransfer.updated_time < stuck_before,
            )
            .values(status=TransferStatus.STAGED_AT_DEST, updated_time=utcnow()),
        )
        idle = list(
            session.execute(
                select(
                    IncomingTransfer.id, IncomingTransfer.peer, IncomingTransfer.source_transfer_id
                )
                .where(
                    IncomingTransfer.peer.is_not(None),
                    IncomingTransfer.status.in_(OPEN_STATUSES),
                    IncomingTransfer.updated_time < stuck_before,
                )
                .order_by(IncomingTransfer.id)
                .limit(limit)
            )
        )
        peers = {p.name: p for p in session.scalars(select(Peer))}
    by_peer: dict[str, dict[int, int]] = {}
    for transfer_id, peer_name, source_id in idle:
        by_peer.setdefault(peer_name or "", {})[source_id or 0] = transfer_id
    dropped = 0
    for name, keyed in by_peer.items():
        peer = peers.get(name)
        if peer is None or out_of_time():
            continue
        try:
            with dialer.open(peer) as client:
                answer = client.outgoing_status(
                    OutgoingStatusRequest(site=settings.site_name, source_transfer_ids=list(keyed))
                )
        except LibrarianError as exc:
            note_contact(factory, name, exc.reason)
            continue
        unwanted = [keyed[k] for k in keyed if k not in set(answer.live)]
        dropped += _drop(factory, unwanted, f"{name} no longer sends it")
    return {"requeued": requeued, "dropped": dropped}


def _drop(factory: sessionmaker[Session], ids: list[int], reason: str) -> int:
    with factory.begin() as session:
        rows = session.scalars(
            select(IncomingTransfer).where(
                IncomingTransfer.id.in_(ids),
                IncomingTransfer.status.in_(OPEN_STATUSES),
            )
        ).all()
        return sum(close_transfer(session, row, TransferStatus.CANCELLED, reason) for row in rows)
