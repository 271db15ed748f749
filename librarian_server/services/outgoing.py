"""State changes of outgoing transfers: completed, retried with backoff, or failed.

Shared by the send path, check-ins and the hypervisor, so that a file's journey
ends the same way however the news arrives. Only live transfers change: one an
operator cancelled stays cancelled whatever a late answer says.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from librarian_client.models import TransferStatus

from ..orm import OUTGOING_LIVE, OutgoingTransfer, RemoteInstance, utcnow
from ..settings import ReplicationSettings
from .sql import insert_ignoring_conflicts

_CHUNK = 500


def live_transfers(session: Session, ids: Iterable[int]) -> list[OutgoingTransfer]:
    wanted = list(ids)
    rows: list[OutgoingTransfer] = []
    for start in range(0, len(wanted), _CHUNK):
        rows.extend(
            session.scalars(
                select(OutgoingTransfer).where(
                    OutgoingTransfer.id.in_(wanted[start : start + _CHUNK]),
                    OutgoingTransfer.status.in_(OUTGOING_LIVE),
                )
            )
        )
    return rows


def record_remote_copies(session: Session, pairs: Iterable[tuple[str, str]]) -> None:
    """Remember that ``site`` holds ``file_name``; knowing it twice changes nothing."""
    now = utcnow()
    rows = [{"file_name": name, "site": site, "copy_time": now} for name, site in set(pairs)]
    insert_ignoring_conflicts(session, RemoteInstance.__table__, rows)  # type: ignore[arg-type]


def complete(session: Session, ids: Iterable[int]) -> int:
    """The peer holds a verified copy: record it and close the transfers."""
    now = utcnow()
    rows = live_transfers(session, ids)
    for row in rows:
        row.status = TransferStatus.COMPLETED
        row.completed_time = now
        row.error = None
    record_remote_copies(session, ((r.file_name, r.destination) for r in rows))
    return len(rows)


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
    for row in live_transfers(session, reasons):
        row.attempts += 1
        row.error = reasons[row.id]
        if permanent or row.attempts >= settings.max_attempts:
            row.status = TransferStatus.FAILED
            row.completed_time = now
            failed += 1
        else:
            row.status = TransferStatus.INITIATED
            row.send_queue_id = None
            row.next_attempt_at = now + backoff(row.attempts, settings)
            retried += 1
    return retried, failed


def postpone(session: Session, reasons: dict[int, str], *, settings: ReplicationSettings) -> int:
    """Back to the pool after the first backoff step, the attempt count unchanged: used
    when nothing was tried (the transfer service was busy). Returns how many."""
    later = utcnow() + backoff(1, settings)
    rows = live_transfers(session, reasons)
    for row in rows:
        row.error = reasons[row.id]
        row.status = TransferStatus.INITIATED
        row.send_queue_id = None
        row.next_attempt_at = later
    return len(rows)


def set_status(
    session: Session, ids: Iterable[int], status: TransferStatus, *, when: datetime | None = None
) -> None:
    for row in live_transfers(session, ids):
        row.status = status
        row.updated_time = when or utcnow()
