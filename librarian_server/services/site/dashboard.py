"""What the dashboard shows that no single API call answers: the problems panel, per-store
and per-peer figures, one file's copies everywhere, and the error log by the page.

Every figure is an indexed count, a grouped aggregate or a bounded page: a view never
reads a store's bytes or walks the catalogue file by file.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from librarian_client.models import (
    FileInfo,
    PeerInfo,
    StagingJobState,
    StoreInfo,
    TransferStatus,
)
from librarian_server.orm import (
    OUTGOING_LIVE,
    Damage,
    ErrorCategory,
    ErrorRecord,
    IncomingTransfer,
    OutgoingTransfer,
    QueueStatus,
    SendQueue,
    StagingJob,
    utcnow,
)
from librarian_server.services.catalogue import files, stores
from librarian_server.services.replication import peers
from librarian_server.services.site import stats
from librarian_server.services.sneakernet.disks import disks
from librarian_server.settings import ServerSettings

RECENT = timedelta(hours=24)
"""The window of "errors in the last 24 h" and of recently failed staging jobs."""
STUCK_STAGING = timedelta(hours=24)
"""A staging job still pending this long after it was made (or past its expiry) is stuck."""


@dataclass(frozen=True)
class Problems:
    """Counts of what needs an operator; each has a page that lists the rows."""

    failed_transfers: int
    failed_batches: int
    open_damage: int
    overdue_disks: int
    stuck_staging: int
    failed_staging: int
    failed_tasks: int
    recent_errors: int

    @property
    def total(self) -> int:
        return (
            self.failed_transfers
            + self.failed_batches
            + self.open_damage
            + self.overdue_disks
            + self.stuck_staging
            + self.failed_staging
            + self.failed_tasks
            + self.recent_errors
        )


def _count(
    session: Session,
    *conditions: ColumnElement[bool] | InstrumentedAttribute[bool],
    of: InstrumentedAttribute[int] | InstrumentedAttribute[str],
) -> int:
    return int(session.scalar(select(func.count(of)).where(*conditions)) or 0)


def problems(
    session: Session, settings: ServerSettings, *, now: datetime | None = None
) -> Problems:
    now = now or utcnow()
    since = now - RECENT
    pending = StagingJob.state == StagingJobState.PENDING
    stuck = (StagingJob.expires_time <= now) | (StagingJob.created_time <= now - STUCK_STAGING)
    return Problems(
        failed_transfers=_count(
            session, OutgoingTransfer.status == TransferStatus.FAILED, of=OutgoingTransfer.id
        ),
        failed_batches=_count(session, SendQueue.status == QueueStatus.FAILED, of=SendQueue.id),
        open_damage=_count(session, Damage.active, of=Damage.id),
        overdue_disks=sum(1 for d in disks(session, settings) if d.overdue),
        stuck_staging=_count(session, pending, stuck, of=StagingJob.id),
        failed_staging=_count(
            session,
            StagingJob.state == StagingJobState.FAILED,
            StagingJob.finished_time >= since,
            of=StagingJob.id,
        ),
        failed_tasks=sum(1 for t in stats.task_states(session, settings) if t.last_ok is False),
        recent_errors=_count(session, ErrorRecord.created_time >= since, of=ErrorRecord.id),
    )


@dataclass(frozen=True)
class StoreRow:
    info: StoreInfo
    files: int
    """Copies on the store."""
    verified: int
    """Copies whose bytes were checked within one audit period."""
    bad: int
    """Copies whose last check failed."""
    counted_time: datetime | None
    """When the ``tally`` task last counted them (None: not yet)."""

    @property
    def coverage(self) -> float:
        """The share of copies checked within an audit period (1.0 for an empty store)."""
        return self.verified / self.files if self.files else 1.0


def store_rows(session: Session, settings: ServerSettings) -> list[StoreRow]:
    """Per store: its state now, and its copies as last counted in the background (a
    count per page view would scan every copy of the site)."""
    counted = stats.store_counts(session)
    rows = []
    for store in stores.get_stores(session):
        info = stores.store_info(session, store, min_free_bytes=settings.min_free_bytes)
        c = counted.get(store.id)
        if c is None:
            rows.append(StoreRow(info, 0, 0, 0, None))
        else:
            rows.append(StoreRow(info, c.copies, c.verified_recently, c.verified_bad, c.taken_time))
    return rows


@dataclass(frozen=True)
class Backlog:
    """Outgoing transfers to a peer not yet confirmed: how many, how big, since when."""

    files: int = 0
    bytes: int = 0
    oldest: datetime | None = None


@dataclass(frozen=True)
class PeerRow:
    info: PeerInfo
    backlog: Backlog
    failed: int
    throughput: list[stats.DayCount]


def peer_rows(session: Session, *, days: int = 30) -> list[PeerRow]:
    backlog = {
        name: Backlog(int(n), int(size or 0), oldest)
        for name, n, size, oldest in session.execute(
            select(
                OutgoingTransfer.destination,
                func.count(OutgoingTransfer.id),
                func.sum(OutgoingTransfer.size),
                func.min(OutgoingTransfer.created_time),
            )
            .where(OutgoingTransfer.status.in_(OUTGOING_LIVE))
            .group_by(OutgoingTransfer.destination)
        )
    }
    failed: dict[str, int] = {
        name: int(n)
        for name, n in session.execute(
            select(OutgoingTransfer.destination, func.count(OutgoingTransfer.id))
            .where(OutgoingTransfer.status == TransferStatus.FAILED)
            .group_by(OutgoingTransfer.destination)
        )
    }
    throughput = stats.peer_throughput(session, days=days)
    return [
        PeerRow(
            peers.peer_info(p),
            backlog.get(p.name, Backlog()),
            failed.get(p.name, 0),
            throughput.get(p.name, []),
        )
        for p in peers.list_peers(session)
    ]


def peer_names(session: Session) -> list[str]:
    return [p.name for p in peers.list_peers(session)]


def transfer_counts(session: Session, *, outgoing: bool) -> dict[TransferStatus, int]:
    """Transfers one way by status (an indexed group-by), for the filter's figures."""
    model: type[OutgoingTransfer] | type[IncomingTransfer] = (
        OutgoingTransfer if outgoing else IncomingTransfer
    )
    rows = session.execute(select(model.status, func.count(model.id)).group_by(model.status))
    return {status: int(n) for status, n in rows}


@dataclass(frozen=True)
class Sending:
    """One outgoing transfer of a file, as its page lists it."""

    id: int
    peer: str
    status: TransferStatus
    attempts: int
    error: str | None
    updated_time: datetime


@dataclass(frozen=True)
class FileView:
    info: FileInfo
    sending: list[Sending]


def file_view(session: Session, name: str, *, limit: int = 50) -> FileView:
    """The file, its copies here (with their checks) and at peers, and its journeys out."""
    info = files.file_info(session, name)
    sending = [
        Sending(t.id, t.destination, t.status, t.attempts, t.error, t.updated_time)
        for t in session.scalars(
            select(OutgoingTransfer)
            .where(OutgoingTransfer.file_name == info.name)
            .order_by(OutgoingTransfer.id.desc())
            .limit(limit)
        )
    ]
    return FileView(info, sending)


@dataclass(frozen=True)
class ErrorEntry:
    id: int
    category: ErrorCategory
    message: str
    caller: str
    created_time: datetime


@dataclass(frozen=True)
class ErrorPage:
    entries: list[ErrorEntry]
    next_before: int | None
    """Pass as ``before`` for the next (older) page; None on the last."""


def error_page(
    session: Session,
    *,
    category: ErrorCategory | None = None,
    before: int | None = None,
    limit: int = 100,
) -> ErrorPage:
    """The error log newest first, paged by id."""
    query = select(ErrorRecord).order_by(ErrorRecord.id.desc()).limit(limit + 1)
    if category is not None:
        query = query.where(ErrorRecord.category == category)
    if before is not None:
        query = query.where(ErrorRecord.id < before)
    rows = list(session.scalars(query))
    more = len(rows) > limit
    entries = [
        ErrorEntry(r.id, r.category, r.message, r.caller, r.created_time) for r in rows[:limit]
    ]
    return ErrorPage(entries, entries[-1].id if more and entries else None)
