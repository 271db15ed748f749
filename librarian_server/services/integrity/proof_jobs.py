"""Proof jobs: a peer asks this site to re-hash its copies of named files now, and reads
what was found.

Another site may count a copy here only on such a proof (a catalogue row is never
one), so the answer must come from bytes read just now. Re-reading can take longer
than a request may wait, so a request only records a job; the ``prove_copies`` task
claims it (a compare-and-set on the row, safe against other processes), re-hashes
every copy through ``rehash_copies`` (a bad copy found so is marked bad at once, and
gets a damage record for this site's repair) and stores the findings. A job belongs
to whoever asked: only that account, or an admin, may read it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from librarian_client.models import (
    CopyProof,
    Finding,
    PermissionLevel,
    ProofJobInfo,
    ProofRequest,
    ProofState,
)
from librarian_server.errors import Conflict, NotFound, PermissionDenied
from librarian_server.orm import File, Instance, ProofJob, utcnow
from librarian_server.services.accounts.auth import AuthenticatedUser
from librarian_server.services.catalogue.names import validate_name
from librarian_server.services.core.lease import Lease
from librarian_server.services.core.sql import claim_rows, execute_count, in_chunks
from librarian_server.services.integrity.audit import record_bad_verdicts
from librarian_server.services.integrity.rehash import CopyVerdict, rehash_copies

MAX_OPEN_JOBS = 100
"""Unfinished jobs one account may have here: a peer re-hashes at most this many
thousand files' worth of work queued by another site."""


def submit(session: Session, request: ProofRequest, *, user: AuthenticatedUser) -> ProofJobInfo:
    """Record a job for the named files (each name checked, repeats dropped)."""
    names = list(dict.fromkeys(validate_name(name) for name in request.names))
    waiting = session.scalar(
        select(func.count())
        .select_from(ProofJob)
        .where(ProofJob.caller == user.name, ProofJob.state != ProofState.DONE)
    )
    if (waiting or 0) >= MAX_OPEN_JOBS:
        raise Conflict(
            f"{user.name!r} already has {waiting} proof jobs waiting at this site.",
            "Wait for them to finish, then ask again.",
        )
    now = utcnow()
    job = ProofJob(
        caller=user.name,
        state=ProofState.PENDING,
        names=names,
        created_time=now,
        updated_time=now,
    )
    session.add(job)
    session.flush()
    return _info(job)


def job_info(session: Session, job_id: int, *, user: AuthenticatedUser) -> ProofJobInfo:
    job = session.get(ProofJob, job_id)
    if job is None:
        raise NotFound(
            f"No proof job {job_id} at this site.",
            "Jobs are kept for a day (`replication.proof_retention_hours`); ask for a new one.",
        )
    if user.permission is not PermissionLevel.ADMIN and job.caller != user.name:
        raise PermissionDenied(
            f"Proof job {job_id} belongs to {job.caller!r}, not {user.name!r}.",
            "Read only the jobs your own account asked for.",
        )
    return _info(job)


def _info(job: ProofJob) -> ProofJobInfo:
    done = job.state is ProofState.DONE
    return ProofJobInfo(
        id=job.id,
        state=job.state,
        caller=job.caller,
        files=len(job.names),
        created_time=job.created_time,
        finished_time=job.finished_time,
        results=[CopyProof.model_validate(r) for r in job.results or []] if done else None,
    )


def claim_job(factory: sessionmaker[Session], *, worker: str, seconds: float) -> int | None:
    """Take the oldest job nobody is working on (pending, or running under a claim that
    expired); None when there is none."""
    now = utcnow()
    free = or_(ProofJob.claimed_until.is_(None), ProofJob.claimed_until < now)
    with factory.begin() as session:
        taken = claim_rows(
            session,
            ProofJob.id,
            ProofJob.state != ProofState.DONE,
            free,
            values={
                "state": ProofState.RUNNING,
                "claimed_by": worker,
                "claimed_until": now + timedelta(seconds=seconds),
                "updated_time": now,
            },
            limit=1,
            synchronize=False,
        )
    return taken[0] if taken else None


def _finding(name: str, file: File | None, verdicts: list[CopyVerdict], site: str) -> CopyProof:
    if file is None:
        return CopyProof(
            name=name,
            held=False,
            finding=Finding.MISSING,
            catalogued=False,
            detail=f"{site} does not catalogue {name!r}",
        )
    known = {"size": file.size, "checksum": file.checksum, "catalogued": True}
    if not verdicts:
        return CopyProof(
            name=name,
            held=False,
            finding=Finding.MISSING,
            detail=f"{site} has no copy of it on disk",
            **known,
        )
    bad = [v for v in verdicts if not v.verdict.ok]
    if len(bad) < len(verdicts):
        detail = f"{len(bad)} other copy/copies bad: {bad[0].verdict.finding}" if bad else ""
        return CopyProof(
            name=name,
            held=True,
            finding=Finding.OK,
            verified_time=utcnow(),
            detail=detail,
            **known,
        )
    first = bad[0].verdict
    return CopyProof(
        name=name,
        held=False,
        finding=first.finding,
        detail=f"{site}: {first.detail}",
        **known,
    )


def run_job(
    factory: sessionmaker[Session], job_id: int, *, worker: str, seconds: float, site: str
) -> bool:
    """Re-hash every copy on disk of each file the job names and store the findings.
    False when the claim was lost meanwhile (another worker finishes it)."""
    with factory() as session:
        job = session.get(ProofJob, job_id)
        if job is None:
            return False
        caller, names = job.caller, list(job.names)
        files: dict[str, File] = {}
        copies: dict[str, list[int]] = {name: [] for name in names}
        for chunk in in_chunks(names):
            for file in session.scalars(select(File).where(File.name.in_(chunk))):
                files[file.name] = file
            rows = session.execute(
                select(Instance.file_name, Instance.id)
                .where(Instance.file_name.in_(chunk), Instance.available)
                .order_by(Instance.id)
            )
            for name, instance_id in rows:
                copies[name].append(instance_id)
        session.expunge_all()
    lease = Lease(factory, ProofJob, job_id, worker, seconds)
    results: list[dict[str, Any]] = []
    by = f"proof ({caller})"
    for name in names:
        lease.renew()
        verdicts = rehash_copies(factory, copies[name], by=by, before_each=lease.renew)
        record_bad_verdicts(factory, verdicts, by)  # this site's repair hears of it
        proof = _finding(name, files.get(name), verdicts, site)
        results.append(proof.model_dump(mode="json"))
    now = utcnow()
    with factory.begin() as session:
        finished = execute_count(
            session,
            update(ProofJob)
            .where(ProofJob.id == job_id, ProofJob.claimed_by == worker)
            .values(
                state=ProofState.DONE,
                results=results,
                finished_time=now,
                updated_time=now,
                claimed_until=None,
            ),
        )
    return finished == 1


def run_pending(
    factory: sessionmaker[Session],
    *,
    worker: str,
    seconds: float,
    site: str,
    out_of_time: Callable[[], bool],
) -> dict[str, int]:
    """Run jobs until none is waiting or the task's time is up."""
    done = files = 0
    while not out_of_time():
        job_id = claim_job(factory, worker=worker, seconds=seconds)
        if job_id is None:
            break
        if run_job(factory, job_id, worker=worker, seconds=seconds, site=site):
            done += 1
            with factory() as session:
                job = session.get(ProofJob, job_id)
                files += len(job.names) if job is not None else 0
    return {"proof_jobs": done, "proof_files": files}


def prune_jobs(session: Session, *, hours: float) -> int:
    """Forget jobs older than the retention period, finished or not."""
    cutoff = utcnow() - timedelta(hours=hours)
    return execute_count(session, delete(ProofJob).where(ProofJob.created_time < cutoff))
