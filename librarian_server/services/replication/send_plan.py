"""Deciding what to send: the files a peer lacks, grouped into send queues.

A peer backing off after an outage (``peer_health``) is skipped until its next
attempt. A file is due for a peer when the peer's policy takes it, this site has it on
disk, the peer is not known to hold it, it did not come from that peer, and no
transfer of it to that peer is live, failed or cancelled (those wait for an
operator's ``retry``). Transfers whose backoff has passed rejoin first.

A run scans only files created since the previous plan (less a look-back for
commits that land late), so its cost follows what is new, not the catalogue's
size; a full sweep checks every file now and then, and after a policy change.

Two processes planning at once cannot queue a file twice: the partial unique
index on live (file, destination) pairs makes the second insert a no-op, a
transfer joins a queue only if no other queue took it first, and on PostgreSQL
the peer row is locked while its queues are built.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import Select, exists, select, update
from sqlalchemy.orm import Session, sessionmaker

from librarian_client.models import TransferStatus
from librarian_server.orm import (
    File,
    Instance,
    OutgoingTransfer,
    Peer,
    QueueStatus,
    RemoteInstance,
    SendQueue,
    utcnow,
)
from librarian_server.services.catalogue.copies import kept
from librarian_server.services.catalogue.files import glob_to_like, name_prefix
from librarian_server.services.core.sql import insert_ignoring_conflicts
from librarian_server.settings import ServerSettings


def lacking(
    peer: Peer,
    settings: ServerSettings,
    limit: int,
    *,
    since: datetime | None = None,
    names: Sequence[str] | None = None,
) -> Select[str, int, str, str, str]:
    """Files this peer should get and has not got, oldest first (created since ``since``,
    or among ``names``): name, size, checksum, origin site and uploader."""
    blocked = exists().where(
        OutgoingTransfer.file_name == File.name,
        OutgoingTransfer.destination == peer.name,
        OutgoingTransfer.status != TransferStatus.COMPLETED,
    )
    held = exists().where(RemoteInstance.file_name == File.name, RemoteInstance.site == peer.name)
    # A copy only on tape counts: its send stages it first and waits.
    on_disk = exists().where(Instance.file_name == File.name, kept())
    query = select(File.name, File.size, File.checksum, File.source, File.uploader).where(
        ~blocked, ~held, on_disk, File.source != peer.name
    )
    if not peer.forward:
        query = query.where(File.source == settings.site_name)
    if peer.push_name_glob:
        like, literal = glob_to_like(peer.push_name_glob)
        query = query.where(*name_prefix(literal), File.name.like(like, escape="\\"))
    if peer.push_created_after is not None:
        query = query.where(File.created_time >= peer.push_created_after)
    if since is not None:
        query = query.where(File.created_time >= since)
    if names is not None:
        query = query.where(File.name.in_(list(names)))
    return query.order_by(File.created_time, File.name).limit(limit)


def plan(
    factory: sessionmaker[Session],
    peer_name: str,
    settings: ServerSettings,
    *,
    batch_size: int,
    limit: int,
) -> dict[str, int]:
    """Queue up to ``limit`` files for one peer, in batches of ``batch_size``."""
    now = utcnow()
    with factory.begin() as session:
        peer = session.scalar(
            select(Peer)
            .where(Peer.name == peer_name, Peer.enabled)
            .with_for_update(skip_locked=True)
        )
        if peer is None or not peer.push:
            # Disabled, removed, or being planned by another worker; or it takes nothing
            # over the network, not even retries (what a disk did not deliver waits for
            # the next disk).
            return {"queued": 0, "batches": 0}
        if peer.next_attempt_after is not None and peer.next_attempt_after > now:
            # Unreachable lately and backing off: nothing is planned for it until its next
            # attempt; what it lacks meanwhile is found then (the scan starts where the
            # last one stopped).
            return {"queued": 0, "batches": 0, "backing_off": 1}
        rows = session.execute(lacking(peer, settings, limit, since=_since(peer, settings))).all()
        _advance(peer, settings, now, exhausted=len(rows) < limit)
        add_transfers(
            session, peer.name, [(name, size, checksum) for name, size, checksum, *_ in rows], now
        )
        # New transfers and those whose backoff has passed, oldest first.
        due = list(
            session.scalars(
                select(OutgoingTransfer.id)
                .where(
                    OutgoingTransfer.destination == peer.name,
                    OutgoingTransfer.status == TransferStatus.INITIATED,
                    OutgoingTransfer.send_queue_id.is_(None),
                    OutgoingTransfer.next_attempt_at <= now,
                )
                .order_by(OutgoingTransfer.id)
                .limit(limit)
            )
        )
        return _make_queues(session, peer.name, due, batch_size)


def add_transfers(
    session: Session,
    destination: str,
    files: list[tuple[str, int, str]],
    now: datetime | None = None,
) -> None:
    """New transfers of these (name, size, checksum) to ``destination``, due at ``now``;
    a file already live for it is skipped (the partial unique index)."""
    now = now or utcnow()
    insert_ignoring_conflicts(
        session,
        OutgoingTransfer.__table__,  # type: ignore[arg-type]
        [
            {
                "file_name": name,
                "destination": destination,
                "status": TransferStatus.INITIATED.value,
                "size": size,
                "checksum": checksum,
                "attempts": 0,
                "next_attempt_at": now,
                "created_time": now,
                "updated_time": now,
            }
            for name, size, checksum in files
        ],
    )


def _since(peer: Peer, settings: ServerSettings) -> datetime | None:
    """Where this run's scan starts: after the last plan (less a look-back), or at the
    beginning for a full sweep (the first, after a policy change, and once a day)."""
    if peer.planned_through is None or peer.swept_time is None:
        return None
    if utcnow() - peer.swept_time > timedelta(hours=settings.replication.full_sweep_hours):
        return None
    return peer.planned_through - timedelta(seconds=settings.replication.plan_lookback_seconds)


def _advance(peer: Peer, settings: ServerSettings, now: datetime, *, exhausted: bool) -> None:
    """Once a scan has seen everything up to ``now``, later runs start there."""
    if not exhausted:
        return  # a backlog: the next run scans the same range again, past what is queued
    if _since(peer, settings) is None:
        peer.swept_time = now
    peer.planned_through = now


def _make_queues(
    session: Session, destination: str, ids: list[int], batch_size: int
) -> dict[str, int]:
    queued = batches = 0
    now = utcnow()
    for start in range(0, len(ids), batch_size):
        chunk = ids[start : start + batch_size]
        queue = SendQueue(
            destination=destination,
            status=QueueStatus.PENDING,
            created_time=now,
            updated_time=now,
        )
        session.add(queue)
        session.flush()
        # Only transfers no other queue took meanwhile.
        taken = list(
            session.execute(
                update(OutgoingTransfer)
                .where(OutgoingTransfer.id.in_(chunk), OutgoingTransfer.send_queue_id.is_(None))
                .values(send_queue_id=queue.id, updated_time=now)
                .returning(OutgoingTransfer.size)
            ).scalars()
        )
        if not taken:
            session.delete(queue)
            continue
        queue.file_count = len(taken)
        queue.total_bytes = sum(taken)
        queued += len(taken)
        batches += 1
    return {"queued": queued, "batches": batches}


def pushing_peers(session: Session) -> list[str]:
    return list(
        session.scalars(select(Peer.name).where(Peer.enabled, Peer.push).order_by(Peer.name))
    )
