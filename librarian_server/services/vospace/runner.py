"""Running move and copy jobs off the request, with a short wait for quick ones.

PHASE=RUN queues the job and starts it in a worker thread; the request waits up to
``QUICK`` seconds so that a move (one transaction) is usually COMPLETED by the time
the client first polls. A long copy keeps running after the answer; its phase says
where it is, and ABORT stops it between batches.
"""

from __future__ import annotations

import asyncio
import logging

from anyio import to_thread
from sqlalchemy.orm import Session, sessionmaker

from librarian_server.errors import LibrarianError
from librarian_server.orm import UWSPhase, VOSpaceJob, utcnow
from librarian_server.services.vospace import copying, jobs, nodes, transfers
from librarian_server.services.vospace.data import account
from librarian_server.services.vospace.faults import (
    InternalFault,
    VOSpaceFault,
    from_librarian_error,
)
from librarian_server.services.vospace.model import TransferDoc

log = logging.getLogger(__name__)
QUICK = 5.0
_running: set[asyncio.Task[None]] = set()


def _claim(factory: sessionmaker[Session], job_id: str) -> bool:
    with factory.begin() as session:
        job = session.get(VOSpaceJob, job_id, with_for_update=True)
        if job is None or job.phase is not UWSPhase.QUEUED:
            return False
        job.phase = UWSPhase.EXECUTING
        job.start_time = utcnow()
        return True


def _still_running(factory: sessionmaker[Session], job_id: str) -> bool:
    with factory() as session:
        job = session.get(VOSpaceJob, job_id)
        return job is not None and job.phase is UWSPhase.EXECUTING


def _fail(factory: sessionmaker[Session], job_id: str, fault: VOSpaceFault) -> None:
    jobs.log_fault(job_id, fault)
    with factory.begin() as session:
        job = session.get(VOSpaceJob, job_id)
        if job is not None and job.phase is UWSPhase.EXECUTING:
            jobs.fail(job, fault)


def execute(factory: sessionmaker[Session], job_id: str, ctx: transfers.Context) -> None:
    """Run one queued move or copy to COMPLETED or ERROR (blocking; call in a thread)."""
    if not _claim(factory, job_id):
        return
    try:
        with factory.begin() as session:
            job = session.get(VOSpaceJob, job_id)
            assert job is not None  # noqa: S101 - claimed above
            transfer = TransferDoc.from_json(job.request)
            ctx.user = account(session, job.owner) if job.owner else None
            if not transfer.keep_bytes:
                destination = transfers.move(session, transfer, ctx)
            else:
                user = nodes.writer(ctx.user)
                source, destination = transfers.plan_move(session, transfer, ctx)
                if destination is not None:
                    copying.copy_rows(session, source, destination, user)
            if destination is not None:
                job.results = [{"id": "destination", "href": ctx.uris.uri(destination)}]
        if transfer.keep_bytes and destination is not None:
            copying.copy_files(
                factory,
                source,
                destination,
                user=user,
                settings=ctx.settings,
                keep_going=lambda: _still_running(factory, job_id),
            )
        with factory.begin() as session:
            jobs.complete(session, job_id)
    except VOSpaceFault as fault:
        _fail(factory, job_id, fault)
    except LibrarianError as exc:
        _fail(factory, job_id, from_librarian_error(exc))
    except Exception as exc:
        log.exception("transfer job %s failed", job_id)
        _fail(factory, job_id, InternalFault(f"{type(exc).__name__}: {exc}"))


async def start(factory: sessionmaker[Session], job_id: str, ctx: transfers.Context) -> None:
    """Start a queued job in a thread; return when it is done or after ``QUICK`` seconds."""
    task = asyncio.create_task(to_thread.run_sync(execute, factory, job_id, ctx))
    _running.add(task)
    task.add_done_callback(_running.discard)
    await asyncio.wait({task}, timeout=QUICK)
