"""State changes of outgoing transfers: completed, retried with backoff, or failed.

Shared by the send path, check-ins and the hypervisor, so that a file's journey
ends the same way however the news arrives. Only live transfers change: one an
operator cancelled stays cancelled whatever a late answer says.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from librarian_client.models import TransferStatus
from librarian_server.metrics import counters as metrics
from librarian_server.orm import (
    OUTGOING_LIVE,
    Checkin,
    File,
    OutgoingTransfer,
    Peer,
    RemoteInstance,
    utcnow,
)
from librarian_server.services.core import events
from librarian_server.services.core.sql import in_chunks
from librarian_server.services.ingest.commit import existing_files
from librarian_server.settings import ReplicationSettings


def live_transfers(session: Session, ids: Iterable[int]) -> list[OutgoingTransfer]:
    rows: list[OutgoingTransfer] = []
    for chunk in in_chunks(ids):
        rows.extend(
            session.scalars(
                select(OutgoingTransfer).where(
                    OutgoingTransfer.id.in_(chunk),
                    OutgoingTransfer.status.in_(OUTGOING_LIVE),
                )
            )
        )
    return rows


def live_in_queue(session: Session, queue_id: int) -> list[int]:
    return list(
        session.scalars(
            select(OutgoingTransfer.id).where(
                OutgoingTransfer.send_queue_id == queue_id,
                OutgoingTransfer.status.in_(OUTGOING_LIVE),
            )
        )
    )


def live_checksums(session: Session, ids: Iterable[int]) -> dict[int, str]:
    found: dict[int, str] = {}
    for chunk in in_chunks(ids):
        rows = session.execute(
            select(OutgoingTransfer.id, OutgoingTransfer.checksum).where(
                OutgoingTransfer.id.in_(chunk),
                OutgoingTransfer.status.in_(OUTGOING_LIVE),
            )
        )
        found.update((transfer_id, checksum) for transfer_id, checksum in rows)
    return found


def record_remote_copies(session: Session, pairs: Iterable[tuple[str, str]]) -> None:
    """Remember that ``site`` holds ``file_name``; knowing it twice changes nothing.

    Each copy learnt of for the first time is a ``copy.confirmed`` event: the unique
    index decides what is new (the rows the insert returns), so a repeated check-in,
    or two processes learning of one copy at once, announce it once."""
    now = utcnow()
    rows = [{"file_name": name, "site": site, "copy_time": now} for name, site in set(pairs)]
    if not rows:
        return
    module = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = (
        module.insert(RemoteInstance)
        .on_conflict_do_nothing()
        .returning(RemoteInstance.file_name, RemoteInstance.site)
    )
    new = [(name, site) for name, site in session.execute(statement, rows)]
    sizes: dict[str, int] = {}
    for chunk in in_chunks({name for name, _ in new}):
        found = session.execute(select(File.name, File.size).where(File.name.in_(chunk)))
        sizes.update((name, size) for name, size in found)
    events.record_many(
        session,
        events.COPY_CONFIRMED,
        actor="replication",
        # Peers do not say which of their stores holds a copy: ``store`` stays null.
        items=(
            (name, {"peer": site, "size": sizes.get(name, 0), "store": None})
            for name, site in sorted(new)
        ),
    )


def _update_live(session: Session, ids: Iterable[int], **values: object) -> list[tuple[str, str]]:
    """One UPDATE per 500 live transfers; returns their (file name, destination)."""
    changed: list[tuple[str, str]] = []
    for chunk in in_chunks(ids):
        result = session.execute(
            update(OutgoingTransfer)
            .where(
                OutgoingTransfer.id.in_(chunk),
                OutgoingTransfer.status.in_(OUTGOING_LIVE),
            )
            .values(updated_time=utcnow(), **values)
            .returning(OutgoingTransfer.file_name, OutgoingTransfer.destination)
            .execution_options(synchronize_session=False)
        )
        changed.extend((name, site) for name, site in result)
    return changed


def complete(session: Session, ids: Iterable[int], *, site: str) -> int:
    """The peer holds a verified copy: record it, close the transfers, tell the origins."""
    done = _update_live(
        session, ids, status=TransferStatus.COMPLETED, completed_time=utcnow(), error=None
    )
    record_remote_copies(session, done)
    tell_origins(session, done, site=site)
    if done:
        peers = [peer for _, peer in done]
        metrics.after_commit(session, lambda: metrics.transfers_by_peer("confirmed", peers))
    return len(done)


def tell_origins(session: Session, copies: list[tuple[str, str]], *, site: str) -> None:
    """Owe each file's origin a notice that ``holder`` now has it, when the origin is a
    peer of ours other than the holder: the origin's catalogue then shows every copy,
    not only the one it sent itself."""
    if not copies:
        return
    peers = set(session.scalars(select(Peer.name)))
    files = existing_files(session, {name for name, _ in copies})
    now = utcnow()
    notices = []
    for name, holder in copies:
        file = files.get(name)
        if file is None or file.source not in peers or file.source in (site, holder):
            continue
        notices.append(
            Checkin(
                destination=file.source,
                file_name=name,
                checksum=file.checksum,
                committed=True,
                holder=holder,
                next_attempt_at=now,
                created_time=now,
            )
        )
    session.add_all(notices)


def backoff(attempts: int, settings: ReplicationSettings) -> timedelta:
    seconds = settings.retry_backoff_seconds * 2 ** max(attempts - 1, 0)
    return timedelta(seconds=min(seconds, settings.retry_backoff_max_seconds))


def retry_or_fail(
    session: Session,
    reasons: dict[int, str],
    *,
    settings: ReplicationSettings,
    permanent: bool = False,
) -> tuple[int, int]:
    """One more failed attempt each: back to the pool after a backoff, or FAILED for good.

    Returns (to be retried, failed). A retried transfer leaves its batch, so the
    next send_clone run regroups it with others once its backoff has passed.
    """
    now = utcnow()
    retried = failed = 0
    given_up: list[OutgoingTransfer] = []
    for row in live_transfers(session, reasons):
        row.attempts += 1
        row.error = reasons[row.id]
        if permanent or row.attempts >= settings.max_attempts:
            row.status = TransferStatus.FAILED
            row.completed_time = now
            failed += 1
            given_up.append(row)
        else:
            row.status = TransferStatus.INITIATED
            row.send_queue_id = None
            row.next_attempt_at = now + backoff(row.attempts, settings)
            retried += 1
    if given_up:
        failed_peers = [row.destination for row in given_up]
        metrics.after_commit(session, lambda: metrics.transfers_by_peer("failed", failed_peers))
    # Only live rows were read, so a transfer is announced once, when it becomes FAILED.
    events.record_many(
        session,
        events.TRANSFER_FAILED,
        actor="replication",
        items=(
            (
                row.file_name,
                {
                    "peer": row.destination,
                    "reason": row.error,
                    "attempts": row.attempts,
                    "transfer_id": row.id,
                },
            )
            for row in given_up
        ),
    )
    return retried, failed


def postpone(session: Session, reasons: dict[int, str], *, settings: ReplicationSettings) -> int:
    """Back to the pool after the first backoff step, the attempt count unchanged: used
    when nothing was tried (the transfer service was busy). Returns how many."""
    return wait_for_peer(session, reasons, until=utcnow() + backoff(1, settings))


def wait_for_peer(session: Session, reasons: dict[int, str], *, until: datetime) -> int:
    """Back to the pool until ``until``, the attempt count unchanged: the failure was not
    the files' (the peer was unreachable, or busy). Returns how many."""
    rows = live_transfers(session, reasons)
    for row in rows:
        row.error = reasons[row.id]
        row.status = TransferStatus.INITIATED
        row.send_queue_id = None
        row.next_attempt_at = until
    return len(rows)


def set_status(session: Session, ids: Iterable[int], status: TransferStatus) -> None:
    _update_live(session, ids, status=status)


def start_sending(session: Session, remote_ids: dict[int, int | None], manager: str) -> None:
    """The bytes are about to move: note the peer's transfer id and the manager used."""
    if not remote_ids:
        return
    session.execute(
        update(OutgoingTransfer)
        .where(or_(*(OutgoingTransfer.status == s for s in OUTGOING_LIVE)))  # no IN: executemany
        .execution_options(synchronize_session=None),
        [
            {
                "id": ours,
                "remote_transfer_id": theirs,
                "transfer_manager": manager,
                "status": TransferStatus.ONGOING,
                "updated_time": utcnow(),
            }
            for ours, theirs in remote_ids.items()
        ],
    )
