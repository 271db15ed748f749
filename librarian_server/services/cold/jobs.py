"""Staging jobs: who wants which files brought back from tape, and what became of them.

A job names files; each file is ready at once when a copy is on disk (a fast store,
or a cold copy still on the disk cache, whose pin is then extended), pending on its
cold copy's ``StagedCopy`` otherwise, or an error when this site holds no copy. The
tape system is asked by the staging round, in batches, not here: creating a job of
a million files is one transaction and no call out.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import Exists, and_, delete, exists, insert, or_, select, update
from sqlalchemy.orm import Session

from librarian_client.models import (
    MAX_STAGING_FILES,
    MAX_STAGING_PAGE,
    CopyState,
    StagedFileState,
    StagingJobInfo,
    StagingJobState,
    StagingRequest,
)
from librarian_server.errors import FileOffline, InvalidRequest, NotFound, PermissionDenied
from librarian_server.orm import (
    File,
    Instance,
    StagedCopy,
    StagingJob,
    StagingJobFile,
    Store,
    StoreKind,
    utcnow,
)
from librarian_server.services.accounts.auth import AuthenticatedUser
from librarian_server.services.catalogue.files import glob_to_like, name_range
from librarian_server.services.catalogue.names import normalise
from librarian_server.services.cold.readiness import (
    PENDING,
    READY,
    counts,
    file_info,
    finish,
    settle_jobs,
    signer,
)
from librarian_server.services.core.credentials import CredentialBox
from librarian_server.services.core.sql import in_chunks, insert_ignoring_conflicts
from librarian_server.settings import ServerSettings
from librarian_server.stores.registry import cold_backend_for

ERROR = StagedFileState.ERROR


def find_names(session: Session, request: StagingRequest) -> list[str]:
    if request.names:
        wanted = list(dict.fromkeys(normalise(n) for n in request.names))
        found: set[str] = set()
        for chunk in in_chunks(wanted):
            found.update(session.scalars(select(File.name).where(File.name.in_(chunk))))
        missing = [n for n in wanted if n not in found]
        if missing:
            shown = ", ".join(repr(n) for n in missing[:5])
            more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
            raise NotFound(f"No file named {shown}{more}.", "Check the names; nothing was staged.")
        return wanted
    query = select(File.name)
    if request.prefix:
        query = query.where(*name_range([normalise(request.prefix)]))
    else:
        like, literal = glob_to_like(normalise(request.glob or ""))
        query = query.where(File.name.like(like, escape="\\"), *name_range([literal]))
    names = list(session.scalars(query.order_by(File.name).limit(MAX_STAGING_FILES + 1)))
    if len(names) > MAX_STAGING_FILES:
        raise InvalidRequest(
            f"More than {MAX_STAGING_FILES:,} files match; a job takes at most that many.",
            "Narrow the prefix or glob, or split the request into several jobs.",
        )
    if not names:
        raise NotFound("No file matches.", "Check the prefix or glob; nothing was staged.")
    return names


def create_job(
    session: Session,
    request: StagingRequest,
    *,
    owner: str,
    settings: ServerSettings,
    origin: str = "user",
) -> StagingJob:
    names = find_names(session, request)
    now = utcnow()
    expiry = request.expires_in_seconds or settings.cold.job_expiry_seconds
    job = StagingJob(
        id=uuid.uuid4().hex,
        owner=owner,
        origin=origin,
        state=StagingJobState.PENDING,
        notify_url=request.notify_url,
        created_time=now,
        expires_time=now + timedelta(seconds=expiry),
        retain_until=now + timedelta(seconds=expiry + settings.cold.job_retention_seconds),
    )
    session.add(job)
    session.flush()
    rows = []
    for chunk in in_chunks(names):
        for name, (state, instance_id, error) in plan_files(session, chunk, settings).items():
            rows.append(
                {
                    "job_id": job.id,
                    "file_name": name,
                    "instance_id": instance_id,
                    "state": state,
                    "ready_time": now if state is READY else None,
                    "error": error,
                }
            )
        if len(rows) >= 10_000:
            session.execute(insert(StagingJobFile), rows)
            rows = []
    if rows:
        session.execute(insert(StagingJobFile), rows)
    settle_jobs(session, [job.id], settings)
    return job


def plan_files(
    session: Session, names: list[str], settings: ServerSettings
) -> dict[str, tuple[StagedFileState, int | None, str | None]]:
    """Each file's start in a job: (state, the cold copy it waits on, error)."""
    now = utcnow()
    pin = now + timedelta(seconds=settings.cold.pin_seconds)
    instances = session.execute(
        select(Instance, Store)
        .join(Store, Store.id == Instance.store_id)
        .where(
            Instance.file_name.in_(names),
            or_(Instance.verified_result.is_(None), Instance.verified_result != CopyState.BAD),
        )
        .order_by(Instance.id)
    ).all()
    warm: set[str] = set()
    cold: dict[str, tuple[Instance, Store]] = {}
    for instance, store in instances:
        if store.kind is not StoreKind.COLD:
            if instance.available:
                warm.add(instance.file_name)
        elif instance.file_name not in cold or instance.available:
            cold[instance.file_name] = (instance, store)
    plan: dict[str, tuple[StagedFileState, int | None, str | None]] = {}
    wanted: list[dict[str, object]] = []
    online: list[int] = []
    for name in names:
        if name in warm:
            plan[name] = (READY, None, None)
            continue
        if name not in cold:
            plan[name] = (ERROR, None, "no copy of it is kept at this site")
            continue
        instance, store = cold[name]
        backend = cold_backend_for(store)
        if instance.available and backend.exists(instance.path):
            plan[name] = (READY, instance.id, None)
            online.append(instance.id)
            continue
        if instance.available:  # released behind the catalogue's back: offline after all
            instance.available = False
        plan[name] = (PENDING, instance.id, None)
        wanted.append(
            {
                "instance_id": instance.id,
                "store_id": store.id,
                "file_name": name,
                "tape_path": backend.tape_path(instance.path),
                "state": PENDING,
                "requested_time": now,
                "requests": 0,
            }
        )
    session.flush()
    insert_ignoring_conflicts(session, StagedCopy.__table__, wanted)  # type: ignore[arg-type]
    # A copy that failed before is asked for again by whoever wants it now.
    for chunk in in_chunks([w["instance_id"] for w in wanted]):
        session.execute(
            update(StagedCopy)
            .where(StagedCopy.instance_id.in_(chunk), StagedCopy.state == ERROR)
            .values(state=PENDING, error=None, last_request_time=None, requested_time=now)
            .execution_options(synchronize_session=False)
        )
    _pin(session, online, pin)
    return plan


def _pin(session: Session, instance_ids: list[int], until: datetime) -> None:
    """Keep these online cold copies on the disk cache until at least ``until``."""
    for chunk in in_chunks(instance_ids):
        known = set(
            session.scalars(select(StagedCopy.instance_id).where(StagedCopy.instance_id.in_(chunk)))
        )
        session.execute(
            update(StagedCopy)
            .where(
                StagedCopy.instance_id.in_(chunk),
                or_(StagedCopy.pinned_until.is_(None), StagedCopy.pinned_until < until),
            )
            .values(pinned_until=until)
            .execution_options(synchronize_session=False)
        )
        new = [i for i in chunk if i not in known]
        if new:
            rows = session.execute(
                select(Instance.id, Instance.store_id, Instance.file_name, Instance.path, Store)
                .join(Store, Store.id == Instance.store_id)
                .where(Instance.id.in_(new))
            ).all()
            now = utcnow()
            insert_ignoring_conflicts(
                session,
                StagedCopy.__table__,  # type: ignore[arg-type]
                [
                    {
                        "instance_id": r.id,
                        "store_id": r.store_id,
                        "file_name": r.file_name,
                        "tape_path": _tape_path(r.Store, r.path),
                        "state": READY,
                        "requested_time": now,
                        "ready_time": now,
                        "pinned_until": until,
                        "requests": 0,
                    }
                    for r in rows
                ],
            )


def _tape_path(store: Store, path: str) -> str:
    backend = cold_backend_for(store)
    return backend.tape_path(path)


def _own_job(session: Session, job_id: str, user: AuthenticatedUser) -> StagingJob:
    job = session.get(StagingJob, job_id)
    if job is None:
        raise NotFound(f"No staging job {job_id!r}.", "`librarian stage --list` shows yours.")
    if job.owner != user.name and not user.is_admin:
        raise PermissionDenied(f"Staging job {job_id!r} is another account's.")
    return job


def job_info(
    session: Session,
    job_id: str,
    user: AuthenticatedUser,
    box: CredentialBox,
    *,
    after: str | None = None,
    limit: int = 1000,
    state: StagedFileState | None = None,
) -> StagingJobInfo:
    job = _own_job(session, job_id, user)
    limit = max(0, min(limit, MAX_STAGING_PAGE))
    query = select(StagingJobFile).where(StagingJobFile.job_id == job.id)
    if state is not None:
        query = query.where(StagingJobFile.state == state)
    if after is not None:
        query = query.where(StagingJobFile.file_name > after)
    files = list(session.scalars(query.order_by(StagingJobFile.file_name).limit(limit + 1)))
    more = len(files) > limit
    files = files[:limit]
    return StagingJobInfo(
        id=job.id,
        owner=job.owner,
        state=job.state,
        counts=counts(session, job.id),
        created_time=job.created_time,
        expires_time=job.expires_time,
        finished_time=job.finished_time,
        reason=job.reason,
        notify_url=job.notify_url,
        notify_secret=box.derive(signer(job.id)) if job.notify_url else None,
        files=[file_info(f) for f in files],
        next_after=files[-1].file_name if more and files else None,
    )


def list_jobs(
    session: Session, user: AuthenticatedUser, box: CredentialBox, *, limit: int = 100
) -> list[StagingJobInfo]:
    """The account's jobs (every job, for an admin), newest first, without their files."""
    query = select(StagingJob.id).order_by(StagingJob.created_time.desc()).limit(limit)
    if not user.is_admin:
        query = query.where(StagingJob.owner == user.name)
    return [job_info(session, job_id, user, box, limit=0) for job_id in session.scalars(query)]


def cancel_job(
    session: Session, job_id: str, user: AuthenticatedUser, settings: ServerSettings
) -> list[tuple[int, str]]:
    """Cancel a pending job; returns the (store id, tape path) of the copies no other job
    wants any more, whose stage requests the caller withdraws from the tape system
    once this transaction is committed."""
    job = _own_job(session, job_id, user)
    if job.state is not StagingJobState.PENDING:
        return []
    finish(session, job.id, StagingJobState.CANCELLED, f"cancelled by {user.name}", settings)
    copies = list(
        session.scalars(
            select(StagingJobFile.instance_id).where(
                StagingJobFile.job_id == job.id,
                StagingJobFile.state == PENDING,
                StagingJobFile.instance_id.is_not(None),
            )
        )
    )
    return drop_unwanted(session, [c for c in copies if c is not None])


def wanted() -> Exists:
    """A pending job still waits on the copy (correlated on ``StagedCopy``)."""
    return exists().where(
        StagingJobFile.instance_id == StagedCopy.instance_id,
        StagingJobFile.state == PENDING,
        StagingJobFile.job_id == StagingJob.id,
        StagingJob.state == StagingJobState.PENDING,
    )


def drop_unwanted(session: Session, instance_ids: list[int]) -> list[tuple[int, str]]:
    """Forget the pending stage requests of these copies that no pending job wants."""
    dropped: list[tuple[int, str]] = []
    for chunk in in_chunks(instance_ids):
        condition = and_(
            StagedCopy.instance_id.in_(chunk),
            StagedCopy.state == PENDING,
            ~wanted(),
        )
        dropped += [
            (r.store_id, r.tape_path)
            for r in session.execute(
                delete(StagedCopy)
                .where(condition)
                .returning(StagedCopy.store_id, StagedCopy.tape_path)
                .execution_options(synchronize_session=False)
            )
        ]
    return dropped


def stage_for_read(
    session: Session, name: str, *, owner: str, settings: ServerSettings, origin: str = "read"
) -> str:
    """A job bringing ``name`` back for a reader: theirs already pending, or a new one."""
    existing = session.scalar(
        select(StagingJob.id)
        .join(StagingJobFile, StagingJobFile.job_id == StagingJob.id)
        .where(
            StagingJob.owner == owner,
            StagingJob.origin == origin,
            StagingJob.state == StagingJobState.PENDING,
            StagingJobFile.file_name == name,
        )
        .limit(1)
    )
    if existing is not None:
        return existing
    return create_job(
        session, StagingRequest(names=[name]), owner=owner, settings=settings, origin=origin
    ).id


def offline_error(name: str, job_id: str) -> FileOffline:
    return FileOffline(
        f"{name!r} is on tape only at this site: staging started, job {job_id}.",
        f"Ask again when the job is complete (`librarian stage --job {job_id} --wait` follows it).",
        job=job_id,
    )


def stage_in_background(
    session: Session, names: list[str], *, owner: str, settings: ServerSettings, origin: str
) -> str | None:
    """A job for a background reader (a send, an export) that waits on these files; those
    already in one of its pending jobs are left there. The new job's id, if one was made."""
    waiting: set[str] = set()
    for chunk in in_chunks(names):
        waiting.update(
            session.scalars(
                select(StagingJobFile.file_name)
                .join(StagingJob, StagingJob.id == StagingJobFile.job_id)
                .where(
                    StagingJob.owner == owner,
                    StagingJob.origin == origin,
                    StagingJob.state == StagingJobState.PENDING,
                    StagingJobFile.file_name.in_(chunk),
                )
            )
        )
    fresh = [n for n in dict.fromkeys(names) if n not in waiting]
    if not fresh:
        return None
    request = StagingRequest(names=fresh[:MAX_STAGING_PAGE])
    return create_job(session, request, owner=owner, settings=settings, origin=origin).id


def on_tape_only(session: Session, names: list[str]) -> set[str]:
    """Those of ``names`` with no copy readable now here but one on tape."""
    from librarian_server.services.catalogue.copies import kept, usable

    readable: set[str] = set()
    taped: set[str] = set()
    for chunk in in_chunks(names):
        readable.update(
            session.scalars(
                select(Instance.file_name).where(Instance.file_name.in_(chunk), usable())
            )
        )
        taped.update(
            session.scalars(
                select(Instance.file_name)
                .join(Store, Store.id == Instance.store_id)
                .where(Instance.file_name.in_(chunk), Store.kind == StoreKind.COLD, kept())
            )
        )
    return taped - readable
