"""The staging round and the tape system's events: asking, watching, expiring, releasing.

Calls to the tape system are never made inside a transaction: rows are claimed (their
``last_request_time`` or ``checked_time`` moved on, so another worker passes them
over), the tape system is called, and what it said is written in a new transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, delete, exists, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from librarian_client.models import StagedFileState, StagingJobState
from librarian_server.orm import (
    ErrorCategory,
    File,
    Instance,
    OutboxMessage,
    StagedCopy,
    StagingJob,
    StagingJobFile,
    Store,
    StoreKind,
    utcnow,
)
from librarian_server.services.cold.jobs import drop_unwanted, wanted
from librarian_server.services.cold.readiness import PENDING, READY, finish, mark_failed, mark_ready
from librarian_server.services.core.error_log import record_error
from librarian_server.services.core.sql import claim_rows, in_chunks, insert_ignoring_conflicts
from librarian_server.settings import ServerSettings
from librarian_server.stores import ColdStore
from librarian_server.stores.registry import cold_backend_for
from librarian_server.stores.tape import StageEvent, TapeError

log = logging.getLogger(__name__)


def cold_stores(factory: sessionmaker[Session]) -> list[tuple[int, ColdStore]]:
    with factory() as session:
        stores = session.scalars(
            select(Store).where(Store.kind == StoreKind.COLD, ~Store.retired).order_by(Store.id)
        )
        out = []
        for store in stores:
            backend = cold_backend_for(store)
            out.append((store.id, backend))
        return out


def handle_events(
    factory: sessionmaker[Session], events: list[StageEvent], settings: ServerSettings
) -> dict[str, int]:
    """Mark the copies these events name: ready when their bytes are on the disk cache
    at the catalogued size, failed on an error event. Committed before returning (the
    caller acknowledges the messages after that); an event for a copy that is not
    pending (seen before, or not ours) changes nothing."""
    backends = dict(cold_stores(factory))
    paths = {e.path: e for e in events}
    with factory.begin() as session:
        rows = _pending(session, StagedCopy.tape_path, list(paths))
        ready: list[int] = []
        failed: dict[int, str] = {}
        for r in rows:
            event = paths[r.tape_path]
            backend = backends.get(r.store_id)
            if backend is None:
                continue
            if event.status == "error":
                failed[r.instance_id] = f"the tape system could not stage it: {event.error}"
            elif backend.size_of(r.path) == r.size:
                ready.append(r.instance_id)
        marked = mark_ready(session, ready, settings)
        errors = mark_failed(session, failed, settings)
    return {"events": len(events), "ready": marked, "failed": errors}


def _pending(session: Session, key: Any, values: list[Any]) -> list[Any]:
    """The pending copies whose ``key`` column is among ``values``, with what a check of
    them needs: where the tape system and the store have them, and the catalogued size."""
    rows: list[Any] = []
    for chunk in in_chunks(values):
        rows += session.execute(
            select(
                StagedCopy.instance_id,
                StagedCopy.store_id,
                StagedCopy.tape_path,
                StagedCopy.last_request_time,
                Instance.path,
                File.size,
            )
            .join(Instance, Instance.id == StagedCopy.instance_id)
            .join(File, File.name == Instance.file_name)
            .where(key.in_(chunk), StagedCopy.state == PENDING)
        ).all()
    return rows


def staging_round(
    factory: sessionmaker[Session],
    settings: ServerSettings,
    *,
    limit: int,
    out_of_time: Callable[[], bool],
) -> dict[str, Any]:
    summary: dict[str, Any] = {"asked": 0, "ready": 0, "failed": 0, "restaged": 0}
    summary["repaired"] = _recreate_missing(factory)
    for store_id, backend in cold_stores(factory):
        if out_of_time():
            break
        try:
            summary["asked"] += _ask(factory, store_id, backend, limit)
            ready, failed, restaged = _poll(factory, store_id, backend, settings, limit)
            summary["ready"] += ready
            summary["failed"] += failed
            summary["restaged"] += restaged
            released, released_bytes = _release(factory, store_id, backend, settings, limit)
            summary["released"] = summary.get("released", 0) + released
            summary["released_bytes"] = summary.get("released_bytes", 0) + released_bytes
        except TapeError as exc:
            message = f"cold store {backend.options.url}: {exc}"
            log.warning("staging: %s", message)
            record_error(factory, ErrorCategory.STORE, message, caller="staging")
            summary["tape_errors"] = summary.get("tape_errors", 0) + 1
    summary["expired"] = expire_jobs(factory, settings)
    summary["forgotten"] = _forget_finished(factory)
    return {k: v for k, v in summary.items() if v}


def _ask(factory: sessionmaker[Session], store_id: int, backend: ColdStore, limit: int) -> int:
    """Send the stage requests nobody has sent yet."""
    asked = 0
    while True:
        now = utcnow()
        with factory.begin() as session:
            ids = claim_rows(
                session,
                StagedCopy.instance_id,
                StagedCopy.store_id == store_id,
                StagedCopy.state == PENDING,
                StagedCopy.last_request_time.is_(None),
                values={
                    "last_request_time": now,
                    "checked_time": now,
                    "requests": StagedCopy.requests + 1,
                },
                limit=limit,
            )
            paths = _paths(session, ids)
        if not ids:
            return asked
        try:
            for batch in in_chunks(paths, backend.tape.max_batch):
                backend.tape.stage(batch)
        except TapeError:
            with factory.begin() as session:  # ask again next round, not after the interval
                for chunk in in_chunks(ids):
                    session.execute(
                        update(StagedCopy)
                        .where(StagedCopy.instance_id.in_(chunk), StagedCopy.state == PENDING)
                        .values(last_request_time=None)
                    )
            raise
        asked += len(ids)
        if len(ids) < limit:
            return asked


def _paths(session: Session, ids: list[int]) -> list[str]:
    paths: list[str] = []
    for chunk in in_chunks(ids):
        paths += session.scalars(
            select(StagedCopy.tape_path).where(StagedCopy.instance_id.in_(chunk))
        )
    return paths


def _poll(
    factory: sessionmaker[Session],
    store_id: int,
    backend: ColdStore,
    settings: ServerSettings,
    limit: int,
) -> tuple[int, int, int]:
    """Ask the tape system about requests no event has answered for a while: ready ones
    are marked, unknown ones fail, and lost ones (offline, not being staged, asked long
    enough ago) are asked for again."""
    now = utcnow()
    quiet = now - timedelta(seconds=settings.cold.poll_after_seconds)
    lost_before = now - timedelta(seconds=settings.cold.restage_after_seconds)
    with factory.begin() as session:
        ids = claim_rows(
            session,
            StagedCopy.instance_id,
            StagedCopy.store_id == store_id,
            StagedCopy.state == PENDING,
            StagedCopy.last_request_time.is_not(None),
            func.coalesce(StagedCopy.checked_time, StagedCopy.last_request_time) < quiet,
            values={"checked_time": now},
            limit=limit,
        )
        rows = _pending(session, StagedCopy.instance_id, ids)
    if not rows:
        return 0, 0, 0
    states = {}
    for batch in in_chunks([r.tape_path for r in rows], backend.tape.max_batch):
        states.update(backend.tape.status(batch))
    ready: list[int] = []
    failed: dict[int, str] = {}
    lost: list[tuple[int, str]] = []
    for r in rows:
        state = states.get(r.tape_path)
        if state is None or not state.exists:
            failed[r.instance_id] = "the tape system does not know this file"
        elif state.online and backend.size_of(r.path) == r.size:
            ready.append(r.instance_id)
        elif not state.staging and not state.online and r.last_request_time < lost_before:
            lost.append((r.instance_id, r.tape_path))
    for batch in in_chunks([p for _, p in lost], backend.tape.max_batch):
        backend.tape.stage(batch)
    with factory.begin() as session:
        marked = mark_ready(session, ready, settings)
        errors = mark_failed(session, failed, settings)
        for chunk in in_chunks([i for i, _ in lost]):
            session.execute(
                update(StagedCopy)
                .where(StagedCopy.instance_id.in_(chunk), StagedCopy.state == PENDING)
                .values(last_request_time=now, requests=StagedCopy.requests + 1)
            )
    if lost:
        log.info("staging: %d stage request(s) lost by the tape system, asked again", len(lost))
    return marked, errors, len(lost)


def _release(
    factory: sessionmaker[Session],
    store_id: int,
    backend: ColdStore,
    settings: ServerSettings,
    limit: int,
) -> tuple[int, int]:
    """Copies whose pin ended and that no pending job wants go back to tape only. They
    are marked offline first, so nothing new is served from them while they go."""
    now = utcnow()
    written_before = now - timedelta(seconds=settings.cold.pin_seconds)
    with factory.begin() as session:
        expired = list(
            session.scalars(
                select(StagedCopy.instance_id)
                .where(
                    StagedCopy.store_id == store_id,
                    StagedCopy.state == READY,
                    StagedCopy.pinned_until < now,
                    ~wanted(),
                )
                .limit(limit)
            )
        )
        fresh = list(
            session.scalars(
                select(Instance.id)
                .where(
                    Instance.store_id == store_id,
                    Instance.available,
                    Instance.created_time < written_before,
                    ~exists().where(StagedCopy.instance_id == Instance.id),
                )
                .limit(limit)
            )
        )
        ids = expired + fresh
        if not ids:
            return 0, 0
        rows: list[Any] = []
        for chunk in in_chunks(ids):
            rows += session.execute(
                select(Instance.id, Instance.path, File.size)
                .join(File, File.name == Instance.file_name)
                .where(Instance.id.in_(chunk), Instance.available)
            ).all()
        for chunk in in_chunks(ids):
            session.execute(
                delete(StagedCopy)
                .where(StagedCopy.instance_id.in_(chunk))
                .execution_options(synchronize_session=False)
            )
            session.execute(
                update(Instance)
                .where(Instance.id.in_(chunk))
                .values(available=False)
                .execution_options(synchronize_session=False)
            )
    paths = [backend.tape_path(r.path) for r in rows]
    for batch in in_chunks(paths, backend.tape.max_batch):
        backend.tape.release(batch)
    return len(rows), sum(r.size for r in rows)


def expire_jobs(factory: sessionmaker[Session], settings: ServerSettings) -> int:
    """Fail the pending jobs past their expiry, and withdraw what only they wanted."""
    now = utcnow()
    with factory.begin() as session:
        jobs = list(
            session.scalars(
                select(StagingJob.id).where(
                    StagingJob.state == StagingJobState.PENDING, StagingJob.expires_time < now
                )
            )
        )
        dropped: list[tuple[int, str]] = []
        for job_id in jobs:
            copies = [
                c
                for c in session.scalars(
                    select(StagingJobFile.instance_id).where(
                        StagingJobFile.job_id == job_id, StagingJobFile.state == PENDING
                    )
                )
                if c is not None
            ]
            session.execute(
                update(StagingJobFile)
                .where(StagingJobFile.job_id == job_id, StagingJobFile.state == PENDING)
                .values(state=StagedFileState.ERROR, error="the job expired before it was ready")
            )
            pending = len(copies)
            finish(
                session,
                job_id,
                StagingJobState.FAILED,
                f"expired: {pending} file(s) not ready by the job's expiry",
                settings,
            )
            dropped += drop_unwanted(session, copies)
    withdraw(factory, dropped)
    return len(jobs)


def withdraw(factory: sessionmaker[Session], dropped: list[tuple[int, str]]) -> None:
    """Cancel, at the tape system, stage requests nobody wants any more (best effort: a
    file staged anyway is released when its pin would have ended)."""
    by_store: dict[int, list[str]] = {}
    for store_id, path in dropped:
        by_store.setdefault(store_id, []).append(path)
    backends = dict(cold_stores(factory))
    for store_id, paths in by_store.items():
        backend = backends.get(store_id)
        if backend is None:
            continue
        try:
            for batch in in_chunks(paths, backend.tape.max_batch):
                backend.tape.cancel(batch)
        except TapeError as exc:
            log.warning("staging: could not withdraw %d stage request(s): %s", len(paths), exc)


def _recreate_missing(factory: sessionmaker[Session]) -> int:
    """A pending job file whose copy lost its request row (a cancel crossing a new job)
    gets it back, so no job waits on nothing."""
    with factory.begin() as session:
        rows = session.execute(
            select(Instance.id, Instance.store_id, Instance.file_name, Instance.path)
            .join(StagingJobFile, StagingJobFile.instance_id == Instance.id)
            .join(StagingJob, StagingJob.id == StagingJobFile.job_id)
            .where(
                StagingJobFile.state == PENDING,
                StagingJob.state == StagingJobState.PENDING,
                ~exists().where(StagedCopy.instance_id == Instance.id),
            )
            .distinct()
            .limit(10_000)
        ).all()
        if not rows:
            return 0
        backends = {
            store.id: cold_backend_for(store)
            for store in session.scalars(
                select(Store).where(Store.id.in_({r.store_id for r in rows}))
            )
        }
        now = utcnow()
        values = [
            {
                "instance_id": r.id,
                "store_id": r.store_id,
                "file_name": r.file_name,
                "tape_path": backends[r.store_id].tape_path(r.path),
                "state": PENDING,
                "requested_time": now,
                "requests": 0,
            }
            for r in rows
        ]
        insert_ignoring_conflicts(session, StagedCopy.__table__, values)  # type: ignore[arg-type]
        return len(values)


def _forget_finished(factory: sessionmaker[Session]) -> int:
    now = utcnow()
    with factory.begin() as session:
        jobs = session.execute(
            delete(StagingJob).where(
                StagingJob.state != StagingJobState.PENDING, StagingJob.retain_until < now
            )
        )
        session.execute(
            delete(OutboxMessage).where(
                and_(
                    OutboxMessage.expires_time < now,
                    (OutboxMessage.delivered_time.is_not(None)) | OutboxMessage.abandoned,
                )
            )
        )
        return int(jobs.rowcount or 0)  # type: ignore[attr-defined]
