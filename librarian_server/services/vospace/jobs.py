"""UWS 1.1 transfer jobs: creation, phases, errors, listing, and clean-up.

A push or pull job is EXECUTING while its endpoint waits for the client, COMPLETED
once the bytes have moved, ABORTED when the endpoint expired unused. A move or copy
is QUEUED on PHASE=RUN and executed by the runner. Faults are kept by name in
``errorSummary`` and served bare at ``/error``, which is what the ``vos`` client reads.
"""

from __future__ import annotations

import logging
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from librarian_client.models import PermissionLevel
from librarian_server.orm import UWSPhase, VOSpaceEndpoint, VOSpaceJob, utcnow
from librarian_server.orm.vospace import ACTIVE_PHASES
from librarian_server.services.accounts.auth import AuthenticatedUser
from librarian_server.services.core.sql import in_chunks
from librarian_server.services.vospace.faults import (
    InvalidArgument,
    NodeNotFound,
    PermissionDenied,
    VOSpaceFault,
)
from librarian_server.services.vospace.model import TransferDoc
from librarian_server.settings import ServerSettings

MAX_LIST = 10_000


def create(
    session: Session,
    transfer: TransferDoc,
    *,
    owner: str | None,
    settings: ServerSettings,
    run_id: str | None = None,
) -> VOSpaceJob:
    now = utcnow()
    job = VOSpaceJob(
        id=secrets.token_hex(12),
        owner=owner,
        phase=UWSPhase.PENDING,
        direction=transfer.direction[:4096],
        target=transfer.target[:4096],
        request=transfer.to_json(),
        details=None,
        results=[],
        run_id=run_id[:256] if run_id else None,
        execution_duration=(
            settings.vospace_execution_duration_seconds
            if transfer.is_internal
            else settings.vospace_endpoint_lifetime_seconds
        ),
        created_time=now,
        destruction_time=now + timedelta(seconds=settings.vospace_job_retention_seconds),
    )
    session.add(job)
    session.flush()
    return job


def visible(job: VOSpaceJob, user: AuthenticatedUser | None) -> bool:
    if job.owner is None:
        return True
    return user is not None and (user.name == job.owner or user.permission is PermissionLevel.ADMIN)


def get(session: Session, job_id: str, user: AuthenticatedUser | None) -> VOSpaceJob:
    job = session.get(VOSpaceJob, job_id)
    if job is None:
        raise NodeNotFound(f"no transfer job {job_id!r}")
    if not visible(job, user):
        raise PermissionDenied(f"job {job_id} belongs to another user")
    return job


def fail(job: VOSpaceJob, fault: VOSpaceFault) -> None:
    now = utcnow()
    job.phase = UWSPhase.ERROR
    job.error_fault = fault.fault
    job.error_message = fault.detail[:10_000]
    job.start_time = job.start_time or now
    job.end_time = now


def complete(session: Session, job_id: str) -> None:
    """EXECUTING -> COMPLETED, unless the job was aborted or finished meanwhile."""
    session.execute(
        update(VOSpaceJob)
        .where(VOSpaceJob.id == job_id, VOSpaceJob.phase == UWSPhase.EXECUTING)
        .values(phase=UWSPhase.COMPLETED, end_time=utcnow())
    )


def abort(job: VOSpaceJob) -> None:
    if job.phase in (UWSPhase.PENDING, UWSPhase.HELD, *ACTIVE_PHASES):
        job.phase = UWSPhase.ABORTED
        job.end_time = utcnow()


def destroy(session: Session, job: VOSpaceJob) -> None:
    session.execute(delete(VOSpaceEndpoint).where(VOSpaceEndpoint.job_id == job.id))
    session.delete(job)
    session.flush()


def set_destruction(job: VOSpaceJob, value: str) -> None:
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidArgument(f"{value!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    job.destruction_time = min(moment, job.destruction_time)


def set_execution_duration(job: VOSpaceJob, value: str) -> None:
    try:
        seconds = int(value.strip())
    except ValueError:
        raise InvalidArgument(f"{value!r} is not a whole number of seconds") from None
    if job.phase is not UWSPhase.PENDING:
        raise InvalidArgument("the execution duration can only change while the job is PENDING")
    if seconds > 0:
        job.execution_duration = min(seconds, job.execution_duration)


def listing(
    session: Session,
    user: AuthenticatedUser | None,
    *,
    phases: list[str],
    after: str | None,
    last: int | None,
) -> list[VOSpaceJob]:
    query = select(VOSpaceJob)
    if user is None:
        query = query.where(VOSpaceJob.owner.is_(None))
    elif user.permission is not PermissionLevel.ADMIN:
        query = query.where(VOSpaceJob.owner == user.name)
    if phases:
        try:
            wanted = [UWSPhase(p.strip().upper()) for p in phases]
        except ValueError:
            raise InvalidArgument(f"unknown PHASE in {phases!r}") from None
        query = query.where(VOSpaceJob.phase.in_(wanted))
    if after:
        try:
            moment = datetime.fromisoformat(after.strip().replace("Z", "+00:00"))
        except ValueError:
            raise InvalidArgument(f"AFTER={after!r} is not an ISO 8601 time") from None
        query = query.where(VOSpaceJob.created_time > moment.replace(tzinfo=moment.tzinfo or UTC))
    if last is not None:
        if last <= 0:
            raise InvalidArgument("LAST must be a positive number")
        newest = list(
            session.scalars(
                query.order_by(VOSpaceJob.created_time.desc()).limit(min(last, MAX_LIST))
            )
        )
        return sorted(newest, key=lambda j: (j.created_time, j.id))
    return list(
        session.scalars(query.order_by(VOSpaceJob.created_time, VOSpaceJob.id).limit(MAX_LIST))
    )


def details(job: VOSpaceJob) -> TransferDoc:
    """The negotiated transfer (endpoints filled in), or the request without protocols."""
    if job.details is not None:
        return TransferDoc.from_json(job.details)
    transfer = TransferDoc.from_json(job.request)
    transfer.protocols = []
    return transfer


def housekeeping(factory: sessionmaker[Session], now: datetime | None = None) -> int:
    """Destroy expired jobs, abort transfers whose endpoints expired, fail stuck moves."""
    now = now or utcnow()
    with factory.begin() as session:
        doomed = list(
            session.scalars(select(VOSpaceJob.id).where(VOSpaceJob.destruction_time < now))
        )
        for chunk in in_chunks(doomed):
            session.execute(delete(VOSpaceEndpoint).where(VOSpaceEndpoint.job_id.in_(chunk)))
            session.execute(delete(VOSpaceJob).where(VOSpaceJob.id.in_(chunk)))
        for job in session.scalars(select(VOSpaceJob).where(VOSpaceJob.phase.in_(ACTIVE_PHASES))):
            started = job.start_time or job.created_time
            if started + timedelta(seconds=job.execution_duration) >= now:
                continue
            if TransferDoc.from_json(job.request).is_internal:
                job.phase = UWSPhase.ERROR
                job.error_fault = "InternalFault"
                job.error_message = "the job did not finish in time (or its server stopped)"
            else:
                job.phase = UWSPhase.ABORTED
            job.end_time = now
    return len(doomed)


def log_fault(job_id: str, fault: VOSpaceFault) -> None:
    if fault.status_code >= 500:
        logging.getLogger(__name__).error("job %s: %s", job_id, fault.text)
