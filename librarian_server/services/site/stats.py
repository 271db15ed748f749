"""What the dashboard's overview shows at a glance: totals, growth, throughput, task states.

Every figure is read from rows kept incrementally (``DailyTally`` from the event log,
``TaskRun`` from the runner), never by counting the files table, so a page costs the
same on a catalogue of ten files or ten million.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from librarian_client.models import CopyState
from librarian_server.orm.base import utcnow
from librarian_server.orm.event import Event
from librarian_server.orm.file import File
from librarian_server.orm.instance import Instance
from librarian_server.orm.store import Store
from librarian_server.orm.tally import DailyTally, StoreSnapshot, TallyWatermark
from librarian_server.orm.task_run import TaskRun
from librarian_server.services.core import events
from librarian_server.settings import ServerSettings

COMMITTED = "committed"
DELETED = "deleted"
CONFIRMED = "confirmed"
# How stale the per-store counts may get: counting copies scans the instances table,
# which the ``tally`` task does at most this often, never a page view.
SNAPSHOT_SECONDS = 300.0
_KINDS = {events.FILE_COMMITTED: COMMITTED, events.FILE_DELETED: DELETED}


@dataclass(frozen=True)
class Totals:
    files: int
    bytes: int


@dataclass(frozen=True)
class DayCount:
    day: date
    files: int
    bytes: int


@dataclass(frozen=True)
class TaskState:
    name: str
    enabled: bool
    every_seconds: float
    last_started: datetime | None
    last_seconds: float | None
    last_ok: bool | None
    last_summary: dict[str, Any]
    last_error: str | None
    runs: int
    failures: int


def totals(session: Session) -> Totals:
    sums = dict.fromkeys((COMMITTED, DELETED), (0, 0))
    for kind, files, size in session.execute(
        select(DailyTally.kind, func.sum(DailyTally.files), func.sum(DailyTally.bytes))
        .where(DailyTally.kind.in_((COMMITTED, DELETED)))
        .group_by(DailyTally.kind)
    ):
        sums[kind] = (int(files or 0), int(size or 0))
    return Totals(
        files=max(sums[COMMITTED][0] - sums[DELETED][0], 0),
        bytes=max(sums[COMMITTED][1] - sums[DELETED][1], 0),
    )


def _days(days: int) -> list[date]:
    today = utcnow().date()
    return [today - timedelta(days=n) for n in range(days - 1, -1, -1)]


def growth(session: Session, *, days: int = 30) -> list[DayCount]:
    """Files and bytes committed per day, oldest first, every day present."""
    span = _days(days)
    got = {
        day: (files, size)
        for day, files, size in session.execute(
            select(DailyTally.day, DailyTally.files, DailyTally.bytes).where(
                DailyTally.kind == COMMITTED, DailyTally.key == "", DailyTally.day >= span[0]
            )
        )
    }
    return [DayCount(d, *got.get(d, (0, 0))) for d in span]


def peer_throughput(session: Session, *, days: int = 30) -> dict[str, list[DayCount]]:
    """Copies confirmed at each peer per day, oldest first, every day present."""
    span = _days(days)
    got: dict[str, dict[date, tuple[int, int]]] = defaultdict(dict)
    for day, peer, files, size in session.execute(
        select(DailyTally.day, DailyTally.key, DailyTally.files, DailyTally.bytes).where(
            DailyTally.kind == CONFIRMED, DailyTally.day >= span[0]
        )
    ):
        got[peer][day] = (files, size)
    return {
        peer: [DayCount(d, *by_day.get(d, (0, 0))) for d in span]
        for peer, by_day in sorted(got.items())
    }


def task_states(session: Session, settings: ServerSettings) -> list[TaskState]:
    """Every configured task with its last run (None where it never ran)."""
    runs = {r.name: r for r in session.scalars(select(TaskRun))}
    out = []
    for name in type(settings.background).model_fields:
        plan = getattr(settings.background, name)
        if not hasattr(plan, "every_seconds"):
            continue  # not a task (e.g. in_server)
        run = runs.get(name)
        out.append(
            TaskState(
                name=name,
                enabled=plan.enabled,
                every_seconds=plan.every_seconds,
                last_started=run.last_started if run else None,
                last_seconds=run.last_seconds if run else None,
                last_ok=run.last_ok if run else None,
                last_summary=dict(run.last_summary or {}) if run else {},
                last_error=run.last_error if run else None,
                runs=run.runs if run else 0,
                failures=run.failures if run else 0,
            )
        )
    return out


def tally(session: Session, *, limit: int) -> int:
    """Fold up to ``limit`` new events into the daily tallies; returns how many were read.

    The watermark moves in the same transaction as the tallies, so a crash folds a
    batch in wholly or not at all."""
    events.sequence(session)
    mark = session.get(TallyWatermark, 1, with_for_update=True)
    if mark is None:
        mark = TallyWatermark(id=1, seq=0)
        session.add(mark)
        session.flush()
    rows = session.execute(
        select(Event.seq, Event.kind, Event.time, Event.detail)
        .where(
            Event.seq > mark.seq,
            Event.kind.in_((*_KINDS, events.COPY_CONFIRMED)),
        )
        .order_by(Event.seq)
        .limit(limit)
    ).all()
    if not rows:
        # Nothing of ours; still move past other kinds so the next look starts later.
        mark.seq = events.last_seq(session)
        return 0
    adds: dict[tuple[date, str, str], list[int]] = defaultdict(lambda: [0, 0])
    for _seq, kind, time, detail in rows:
        detail = detail or {}
        if kind == events.COPY_CONFIRMED:
            key = (time.date(), CONFIRMED, str(detail.get("peer", "")))
        else:
            key = (time.date(), _KINDS[kind], "")
        adds[key][0] += 1
        adds[key][1] += int(detail.get("size") or 0)
    _add(session, adds)
    mark.seq = rows[-1].seq if len(rows) == limit else events.last_seq(session)
    return len(rows)


def _add(session: Session, adds: dict[tuple[date, str, str], list[int]]) -> None:
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    for (day, kind, key), (files, size) in adds.items():
        statement = insert(DailyTally).values(day=day, kind=kind, key=key, files=files, bytes=size)
        session.execute(
            statement.on_conflict_do_update(
                index_elements=["day", "kind", "key"],
                set_={
                    "files": DailyTally.files + statement.excluded.files,
                    "bytes": DailyTally.bytes + statement.excluded.bytes,
                },
            )
        )


@dataclass(frozen=True)
class StoreCounts:
    copies: int
    bytes: int
    verified_recently: int
    verified_bad: int
    never_verified: int
    taken_time: datetime

    @property
    def coverage(self) -> float:
        """The share of copies proven within the audit period (1.0 for an empty store)."""
        return self.verified_recently / self.copies if self.copies else 1.0


def store_counts(session: Session) -> dict[int, StoreCounts]:
    """The last snapshot per store id (a store counted never yet is absent)."""
    return {
        row.store_id: StoreCounts(
            copies=row.copies,
            bytes=row.bytes,
            verified_recently=row.verified_recently,
            verified_bad=row.verified_bad,
            never_verified=row.never_verified,
            taken_time=row.taken_time,
        )
        for row in session.scalars(select(StoreSnapshot))
    }


def refresh_store_counts(
    session: Session, *, audit_period: timedelta, max_age_seconds: float = SNAPSHOT_SECONDS
) -> int:
    """Count the copies of each store whose snapshot is older than ``max_age_seconds``
    (one GROUP BY over the instances of those stores); returns how many were counted."""
    now = utcnow()
    taken = dict(session.execute(select(StoreSnapshot.store_id, StoreSnapshot.taken_time)).all())
    due = [
        store_id
        for store_id in session.scalars(select(Store.id))
        if store_id not in taken or (now - taken[store_id]).total_seconds() >= max_age_seconds
    ]
    if not due:
        return 0
    recent = now - audit_period
    counted = {
        store_id: (copies, size or 0, ok or 0, bad or 0, never or 0)
        for store_id, copies, size, ok, bad, never in session.execute(
            select(
                Instance.store_id,
                func.count(),
                func.sum(File.size),
                func.sum(case((Instance.verified_time >= recent, 1), else_=0)),
                func.sum(case((Instance.verified_result == CopyState.BAD, 1), else_=0)),
                func.sum(case((Instance.verified_time.is_(None), 1), else_=0)),
            )
            .join(File, File.name == Instance.file_name)
            .where(Instance.store_id.in_(due))
            .group_by(Instance.store_id)
        )
    }
    for store_id in due:
        copies, size, ok, bad, never = counted.get(store_id, (0, 0, 0, 0, 0))
        row = session.get(StoreSnapshot, store_id) or StoreSnapshot(store_id=store_id)
        row.taken_time = now
        row.copies, row.bytes = int(copies), int(size)
        row.verified_recently, row.verified_bad, row.never_verified = int(ok), int(bad), int(never)
        session.add(row)
    return len(due)
