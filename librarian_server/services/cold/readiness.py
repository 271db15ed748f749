"""Copies becoming ready (or failing), and the jobs that were waiting for them.

Every change here is conditional on the copy still being pending, in one transaction
with its jobs' files, so an event that comes twice (the bus delivers at least once)
or a poll that crosses an event marks nothing twice: ready times stay the first ones.
A job is settled, and its notification queued, in the same transaction as the last
of its files.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import timedelta

from sqlalchemy import exists, func, select, update
from sqlalchemy.orm import Session

from librarian_client.models import (
    StagedFileState,
    StagingCounts,
    StagingFileInfo,
    StagingJobState,
    StagingNotification,
)
from librarian_server.orm import Instance, StagedCopy, StagingJob, StagingJobFile, utcnow
from librarian_server.services.core import events, outbox
from librarian_server.services.core.sql import in_chunks
from librarian_server.settings import ServerSettings

PENDING, READY, ERROR = StagedFileState.PENDING, StagedFileState.READY, StagedFileState.ERROR
# How a job's end is announced in the event log; a cancelled job is not (its owner did it).
_ENDED = {
    StagingJobState.COMPLETE: events.STAGING_COMPLETE,
    StagingJobState.FAILED: events.STAGING_FAILED,
}


def mark_ready(session: Session, instance_ids: Iterable[int], settings: ServerSettings) -> int:
    """These cold copies are on the disk cache now; returns how many changed."""
    now = utcnow()
    pin = now + timedelta(seconds=settings.cold.pin_seconds)
    changed: list[int] = []
    for chunk in in_chunks(list(instance_ids)):
        changed += session.scalars(
            update(StagedCopy)
            .where(StagedCopy.instance_id.in_(chunk), StagedCopy.state == PENDING)
            .values(state=READY, ready_time=now, pinned_until=pin, error=None)
            .returning(StagedCopy.instance_id)
            .execution_options(synchronize_session=False)
        )
    for chunk in in_chunks(changed):
        session.execute(
            update(Instance)
            .where(Instance.id.in_(chunk))
            .values(available=True)
            .execution_options(synchronize_session=False)
        )
    _files_done(session, changed, READY, None, settings)
    return len(changed)


def mark_failed(session: Session, failures: dict[int, str], settings: ServerSettings) -> int:
    """The tape system could not stage these copies (instance id -> why)."""
    changed = 0
    by_reason: dict[str, list[int]] = {}
    for instance_id, reason in failures.items():
        by_reason.setdefault(reason, []).append(instance_id)
    for reason, ids in by_reason.items():
        for chunk in in_chunks(ids):
            done = list(
                session.scalars(
                    update(StagedCopy)
                    .where(StagedCopy.instance_id.in_(chunk), StagedCopy.state == PENDING)
                    .values(state=ERROR, error=reason)
                    .returning(StagedCopy.instance_id)
                    .execution_options(synchronize_session=False)
                )
            )
            _files_done(session, done, ERROR, reason, settings)
            changed += len(done)
    return changed


def _files_done(
    session: Session,
    instance_ids: list[int],
    state: StagedFileState,
    error: str | None,
    settings: ServerSettings,
) -> None:
    now = utcnow()
    jobs: set[str] = set()
    for chunk in in_chunks(instance_ids):
        jobs.update(
            session.scalars(
                update(StagingJobFile)
                .where(StagingJobFile.instance_id.in_(chunk), StagingJobFile.state == PENDING)
                .values(state=state, ready_time=now if state is READY else None, error=error)
                .returning(StagingJobFile.job_id)
                .execution_options(synchronize_session=False)
            )
        )
    settle_jobs(session, jobs, settings)


def counts(session: Session, job_id: str) -> StagingCounts:
    rows: dict[StagedFileState, int] = {
        state: number
        for state, number in session.execute(
            select(StagingJobFile.state, func.count())
            .where(StagingJobFile.job_id == job_id)
            .group_by(StagingJobFile.state)
        )
    }
    ready, pending, error = rows.get(READY, 0), rows.get(PENDING, 0), rows.get(ERROR, 0)
    return StagingCounts(total=ready + pending + error, ready=ready, pending=pending, error=error)


def settle_jobs(session: Session, job_ids: Iterable[str], settings: ServerSettings) -> list[str]:
    """Finish those of these pending jobs with no file left pending; their ids."""
    finished = []
    for job_id in sorted(set(job_ids)):
        still = session.scalar(
            select(exists().where(StagingJobFile.job_id == job_id, StagingJobFile.state == PENDING))
        )
        if still:
            continue
        tally = counts(session, job_id)
        if tally.error:
            reason = f"{tally.error} of {tally.total} file(s) could not be staged"
            if finish(session, job_id, StagingJobState.FAILED, reason, settings, tally):
                finished.append(job_id)
        elif finish(session, job_id, StagingJobState.COMPLETE, None, settings, tally):
            finished.append(job_id)
    return finished


def finish(
    session: Session,
    job_id: str,
    state: StagingJobState,
    reason: str | None,
    settings: ServerSettings,
    tally: StagingCounts | None = None,
) -> bool:
    """Move a pending job to ``state`` (only once: False if it was not pending) and owe
    its receiver the news."""
    now = utcnow()
    job = session.scalar(
        select(StagingJob).where(
            StagingJob.id == job_id, StagingJob.state == StagingJobState.PENDING
        )
    )
    if job is None:
        return False
    moved = session.execute(
        update(StagingJob)
        .where(StagingJob.id == job_id, StagingJob.state == StagingJobState.PENDING)
        .values(state=state, reason=reason, finished_time=now)
        .execution_options(synchronize_session=False)
    )
    if not moved.rowcount:  # type: ignore[attr-defined]
        return False
    tally = tally or counts(session, job_id)
    kind = _ENDED.get(state)
    if kind is not None:
        events.record(
            session,
            kind,
            actor="staging",
            subject=job_id,
            detail={"counts": tally.model_dump(), "owner": job.owner, "reason": reason},
        )
    if job.notify_url:
        errors = session.scalars(
            select(StagingJobFile)
            .where(StagingJobFile.job_id == job_id, StagingJobFile.state == ERROR)
            .order_by(StagingJobFile.file_name)
            .limit(1000)
        )
        body = StagingNotification(
            job=job_id,
            site=settings.site_name,
            state=state,
            counts=tally,
            reason=reason,
            finished_time=now,
            errors=[file_info(f) for f in errors],
        )
        outbox.queue(
            session,
            key=f"staging:{job_id}:{state.value}",
            kind="staging",
            url=job.notify_url,
            body=json.dumps(body.model_dump(mode="json"), sort_keys=True),
            signer=signer(job_id),
            expires=job.retain_until,
        )
    return True


def file_info(row: StagingJobFile) -> StagingFileInfo:
    return StagingFileInfo(
        name=row.file_name, state=row.state, ready_time=row.ready_time, error=row.error
    )


def signer(job_id: str) -> str:
    return f"staging-job:{job_id}"
