"""The audit: re-hash every copy on a store once per period, and walk the store for
bytes the catalogue does not know (dark) or knows but cannot find (missing).

Both halves resume after a restart without extra state for the re-hash (a copy's
own ``verified_time`` says it is done; the oldest-verified come first) and with
one cursor per store for the walk. Nothing here deletes or moves bytes: findings
become damage records, and repair or an operator acts on them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from librarian_client.models import CopyState, DamageState, Finding
from librarian_server.orm import Damage, Instance, Store, utcnow
from librarian_server.services.integrity.damage import end, record_finding
from librarian_server.services.integrity.pace import Pace
from librarian_server.services.integrity.rehash import CopyVerdict, rehash_copies
from librarian_server.stores import backend_for

log = logging.getLogger(__name__)

AUDIT_BY = "audit"
WALK_CHUNK = 1000


@dataclass(frozen=True)
class AuditPolicy:
    period: timedelta
    walk_every: timedelta
    dark_after: timedelta
    bytes_per_second: float | None = None
    files_per_second: float | None = None
    batch_size: int = 1000
    walk_chunk: int = WALK_CHUNK


@dataclass
class StoreAudit:
    """What one pass over one store did."""

    store: str
    rehashed: int = 0
    bytes: int = 0
    damaged: int = 0
    walked: int = 0
    dark: int = 0
    missing: int = 0
    walk_finished: bool = False
    seconds: float = 0.0
    findings: list[str] = field(default_factory=list)


def due_copies(session: Session, store_id: int, before: datetime, limit: int) -> list[int]:
    """Copies on the store not proven since ``before``, never-verified and oldest first.

    Copies already known bad are left to repair; re-reading them proves nothing new.
    """
    return list(
        session.scalars(
            select(Instance.id)
            .where(
                Instance.store_id == store_id,
                Instance.available,
                (Instance.verified_result.is_(None)) | (Instance.verified_result != CopyState.BAD),
                (Instance.verified_time.is_(None)) | (Instance.verified_time < before),
            )
            .order_by(Instance.verified_time.asc().nulls_first(), Instance.id)
            .limit(limit)
        )
    )


def record_bad_verdicts(
    factory: sessionmaker[Session], verdicts: list[CopyVerdict], by: str
) -> int:
    """A damage record for every bad verdict (an audit's, a ``verify``'s, a proof's), so
    that repair hears of it whoever found it. Returns how many were new."""
    bad = [v for v in verdicts if not v.verdict.ok]
    if not bad:
        return 0
    with factory.begin() as session:
        ids = {v.instance_id: v for v in bad}
        store_ids = {
            instance_id: store_id
            for instance_id, store_id in session.execute(
                select(Instance.id, Instance.store_id).where(Instance.id.in_(ids))
            )
        }
        recorded = 0
        for instance_id, v in ids.items():
            if instance_id not in store_ids:
                continue  # deleted while it was read
            if record_finding(
                session,
                store_id=store_ids[instance_id],
                path=v.path,
                kind=v.verdict.finding,
                found_by=by,
                detail=v.verdict.detail,
                file_name=v.file_name,
                instance_id=instance_id,
            ):
                recorded += 1
    return recorded


def rehash_due(
    factory: sessionmaker[Session],
    store_id: int,
    policy: AuditPolicy,
    pace: Pace,
    result: StoreAudit,
    out_of_time: Callable[[], bool],
) -> None:
    before = utcnow() - policy.period
    while not out_of_time():
        with factory() as session:
            ids = due_copies(session, store_id, before, policy.batch_size)
        if not ids:
            return
        done = 0
        for instance_id in ids:
            if out_of_time():
                break
            verdicts = rehash_copies(
                factory, [instance_id], by=AUDIT_BY, throttle=pace.read, before_each=pace.next_file
            )
            done += 1
            result.rehashed += len(verdicts)
            result.bytes += sum(v.verdict.bytes_read for v in verdicts)
            result.damaged += record_bad_verdicts(factory, verdicts, AUDIT_BY)
            result.findings.extend(
                f"{v.file_name}: {v.verdict.finding}" for v in verdicts if not v.verdict.ok
            )
        if done < len(ids):
            return


def _walk_due(store: Store, policy: AuditPolicy, now: datetime) -> bool:
    if store.audit_walk_after is not None:
        return True  # a walk under way resumes
    finished = store.audit_walk_finished
    return finished is None or finished <= now - policy.walk_every


def walk_store(
    factory: sessionmaker[Session],
    store_id: int,
    policy: AuditPolicy,
    result: StoreAudit,
    out_of_time: Callable[[], bool],
) -> None:
    """Compare a stretch of the store with the catalogue at a time, saving the cursor.

    A stray entry is dark only once it is older than the staging timeout (a commit
    renames bytes in before its row is written); a catalogued path absent from the
    stretch is re-read at once, which records it missing (or finds it came back).
    """
    now = utcnow()
    with factory.begin() as session:
        store = session.get_one(Store, store_id)
        if not _walk_due(store, policy, now):
            return
        if store.audit_walk_after is None:
            store.audit_walk_started = now
        after = store.audit_walk_after
        backend = backend_for(store)
    entries = backend.walk(after)
    dark_before = time.time() - policy.dark_after.total_seconds()
    while True:
        if out_of_time():
            return
        chunk: list[tuple[str, float]] = []
        for entry in entries:
            chunk.append(entry)
            if len(chunk) >= policy.walk_chunk:
                break
        last = chunk[-1][0] if len(chunk) >= policy.walk_chunk else None
        _compare(factory, store_id, after, last, chunk, dark_before, result)
        result.walked += len(chunk)
        with factory.begin() as session:
            store = session.get_one(Store, store_id)
            store.audit_walk_after = last
            if last is None:
                store.audit_walk_finished = utcnow()
        if last is None:
            _forget_vanished_dark(factory, store_id)
            result.walk_finished = True
            return
        after = last


def _compare(
    factory: sessionmaker[Session],
    store_id: int,
    after: str | None,
    last: str | None,
    chunk: list[tuple[str, float]],
    dark_before: float,
    result: StoreAudit,
) -> None:
    """The catalogue's view of the stretch (after, last] against what the walk saw."""
    seen = {path for path, _ in chunk}
    with factory() as session:
        query = select(
            Instance.id, Instance.path, Instance.verified_result, Instance.available
        ).where(Instance.store_id == store_id)
        if after is not None:
            query = query.where(Instance.path > after)
        if last is not None:
            query = query.where(Instance.path <= last)
        rows = list(session.execute(query).all())
        dark_query = select(Damage.path).where(
            Damage.store_id == store_id, Damage.active, Damage.kind == Finding.DARK
        )
        if after is not None:
            dark_query = dark_query.where(Damage.path > after)
        if last is not None:
            dark_query = dark_query.where(Damage.path <= last)
        known_dark = set(session.scalars(dark_query))
    catalogued_paths = {row.path for row in rows}
    # Copies already known bad (a quarantined one among them) are repair's business; an
    # offline copy on a cold store is on tape, not on the disk walked.
    absent = [
        row.id
        for row in rows
        if row.path not in seen and row.verified_result is not CopyState.BAD and row.available
    ]
    if absent:
        verdicts = rehash_copies(factory, absent, by=AUDIT_BY)
        missing = record_bad_verdicts(factory, verdicts, AUDIT_BY)
        result.missing += missing
        result.damaged += missing
    stray = [
        (path, mtime)
        for path, mtime in chunk
        if path not in catalogued_paths and path not in known_dark and mtime < dark_before
    ]
    if not stray:
        return
    with factory.begin() as session:
        # Re-read the catalogue for these paths: a commit may have landed meanwhile.
        still_unknown = set(p for p, _ in stray) - set(
            session.scalars(
                select(Instance.path).where(
                    Instance.store_id == store_id, Instance.path.in_([p for p, _ in stray])
                )
            )
        )
        for path, mtime in stray:
            if path not in still_unknown:
                continue
            stamp = datetime.fromtimestamp(mtime).isoformat(timespec="seconds")
            if record_finding(
                session,
                store_id=store_id,
                path=path,
                kind=Finding.DARK,
                found_by=AUDIT_BY,
                detail=f"on the store since {stamp}, in no catalogue row",
            ):
                result.dark += 1
                log.warning("dark file on store %d: %s (not catalogued)", store_id, path)


def _forget_vanished_dark(factory: sessionmaker[Session], store_id: int) -> None:
    """A dark file no longer on the store (removed by hand) ends as gone."""
    with factory.begin() as session:
        store = session.get_one(Store, store_id)
        backend = backend_for(store)
        for damage in session.scalars(
            select(Damage).where(
                Damage.store_id == store_id,
                Damage.active,
                Damage.kind == Finding.DARK,
                Damage.quarantine_path.is_(None),
            )
        ):
            if not backend.exists(damage.path):
                end(damage, DamageState.GONE, "no longer on the store")


def audit_store(
    factory: sessionmaker[Session],
    store_id: int,
    policy: AuditPolicy,
    *,
    deadline: float,
) -> StoreAudit:
    """One bounded pass: due copies first (the expensive, rate-limited half), then the
    walk, both stopping at ``deadline`` (a ``time.monotonic()`` value)."""
    started = time.monotonic()
    with factory() as session:
        name = session.get_one(Store, store_id).name
    result = StoreAudit(store=name)
    pace = Pace(policy.bytes_per_second, policy.files_per_second)

    def out_of_time() -> bool:
        return time.monotonic() >= deadline

    rehash_due(factory, store_id, policy, pace, result, out_of_time)
    walk_store(factory, store_id, policy, result, out_of_time)
    result.seconds = time.monotonic() - started
    return result
