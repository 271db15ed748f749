"""What the UWS job endpoints do, each step in a transaction of its own.

A push or pull is negotiated as soon as it runs; a move or copy is QUEUED and handed
to the runner. A synchronous transfer is a job created and negotiated at once. The
HTTP layer renders what these return; the job's phase says what happened.
"""

from __future__ import annotations

import asyncio

from anyio import to_thread
from sqlalchemy.orm import Session, sessionmaker

from librarian_server.orm import UWSPhase, VOSpaceJob
from librarian_server.services.vospace import jobs, runner
from librarian_server.services.vospace.faults import InvalidArgument, OperationNotSupported
from librarian_server.services.vospace.model import TransferDoc
from librarian_server.services.vospace.transfers import Context, check_reader, negotiate

WAIT_LIMIT = 60.0
ACTIVE = ("PENDING", "QUEUED", "EXECUTING")


def _owner(ctx: Context) -> str | None:
    return ctx.user.name if ctx.user else None


def job(session: Session, job_id: str, ctx: Context) -> VOSpaceJob:
    """A job the caller may see (reads need a reader; others' jobs are refused)."""
    check_reader(ctx)
    return jobs.get(session, job_id, ctx.user)


async def run(factory: sessionmaker[Session], job_id: str, ctx: Context) -> None:
    """PHASE=RUN: negotiate a push or pull now; queue and start a move or copy."""

    def begin() -> bool:
        with factory.begin() as session:
            found = session.get(VOSpaceJob, job_id, with_for_update=True)
            if found is None or found.phase not in (UWSPhase.PENDING, UWSPhase.HELD):
                return False
            if TransferDoc.from_json(found.request).is_internal:
                found.phase = UWSPhase.QUEUED
                return True
            negotiate(session, found, ctx)
            return False

    if await to_thread.run_sync(begin):
        await runner.start(factory, job_id, ctx)


async def create(
    factory: sessionmaker[Session],
    transfer: TransferDoc,
    ctx: Context,
    *,
    run_id: str | None,
    start: bool,
) -> str:
    """A PENDING job for the transfer document, started at once with ``start``; its id."""

    def insert() -> str:
        with factory.begin() as session:
            return jobs.create(
                session, transfer, owner=_owner(ctx), settings=ctx.settings, run_id=run_id
            ).id

    job_id = await to_thread.run_sync(insert)
    if start:
        await run(factory, job_id, ctx)
    return job_id


async def wait(
    factory: sessionmaker[Session],
    job_id: str,
    ctx: Context,
    *,
    seconds: float | None,
    phase: str | None,
) -> VOSpaceJob:
    """The job; with ``seconds``, once it left its active phase (or ``phase``) or time ran out."""

    def load() -> VOSpaceJob:
        with factory() as session:
            return job(session, job_id, ctx)

    found = await to_thread.run_sync(load)
    if seconds is None:
        return found
    loop = asyncio.get_running_loop()
    deadline = loop.time() + min(max(seconds, 0), WAIT_LIMIT)
    start = found.phase.value
    while (
        found.phase.value in ACTIVE
        and found.phase.value == start
        and (phase is None or found.phase.value == phase.upper())
        and loop.time() < deadline
    ):
        await asyncio.sleep(0.2)
        found = await to_thread.run_sync(load)
    return found


async def set_phase(factory: sessionmaker[Session], job_id: str, ctx: Context, value: str) -> None:
    """POST .../phase: RUN starts the job, ABORT stops it (if it has not finished)."""
    if value not in ("RUN", "ABORT"):
        raise InvalidArgument("PHASE must be RUN or ABORT")

    def check_and_abort() -> None:
        with factory.begin() as session:
            found = job(session, job_id, ctx)
            if value == "ABORT":
                jobs.abort(found)

    await to_thread.run_sync(check_and_abort)
    if value == "RUN":
        await run(factory, job_id, ctx)


async def sync(factory: sessionmaker[Session], transfer: TransferDoc, ctx: Context) -> VOSpaceJob:
    """A synchronous transfer: a job negotiated at once (moves and copies are refused)."""

    def start() -> VOSpaceJob:
        with factory.begin() as session:
            created = jobs.create(session, transfer, owner=_owner(ctx), settings=ctx.settings)
            if transfer.is_internal:
                jobs.fail(created, OperationNotSupported("moves and copies go through /transfers"))
                created.details = TransferDoc(transfer.target, transfer.direction).to_json()
            else:
                negotiate(session, created, ctx)
            session.expunge(created)
            return created

    return await to_thread.run_sync(start)
