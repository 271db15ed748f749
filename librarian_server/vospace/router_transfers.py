"""UWS job list ``/transfers`` and synchronous ``/synctrans`` (XML and parameter modes)."""

from __future__ import annotations

import asyncio
from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import PlainTextResponse, RedirectResponse
from sqlalchemy.orm import Session

from librarian_server.api.deps import SessionDep, SessionFactoryDep
from librarian_server.api.params import JobCount
from librarian_server.orm import UWSPhase, VOSpaceJob
from librarian_server.vospace import faults, jobs, render, runner
from librarian_server.vospace.deps import ContextDep, ParamsDep, one, xml_body
from librarian_server.vospace.faults import (
    InvalidArgument,
    NodeNotFound,
    OperationNotSupported,
    VOSpaceFault,
)
from librarian_server.vospace.model import PULL_FROM, ProtocolDoc, TransferDoc
from librarian_server.vospace.parse import parse_transfer
from librarian_server.vospace.transfers import Context, check_reader, negotiate

router = APIRouter(tags=["vospace"])
XML = "text/xml; charset=utf-8"
WAIT_LIMIT = 60.0


def _see(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _job_url(ctx: Context, job_id: str) -> str:
    return jobs.href(ctx.base_url, job_id)


@router.get("/transfers")
def list_jobs(
    session: SessionDep,
    ctx: ContextDep,
    phase: Annotated[list[str] | None, Query(alias="PHASE")] = None,
    after: Annotated[str | None, Query(alias="AFTER")] = None,
    last: JobCount = None,
) -> Response:
    check_reader(ctx)
    found = jobs.listing(session, ctx.user, phases=phase or [], after=after, last=last)
    return Response(render.jobs(jobs.view(j, ctx.base_url) for j in found), media_type=XML)


async def _run(factory: SessionFactoryDep, job_id: str, ctx: Context) -> None:
    """PHASE=RUN: negotiate a push or pull now; queue and start a move or copy."""

    def begin() -> bool:
        with factory.begin() as session:
            job = session.get(VOSpaceJob, job_id, with_for_update=True)
            if job is None or job.phase not in (UWSPhase.PENDING, UWSPhase.HELD):
                return False
            if TransferDoc.from_json(job.request).is_internal:
                job.phase = UWSPhase.QUEUED
                return True
            negotiate(session, job, ctx)
            return False

    if await to_thread.run_sync(begin):
        await runner.start(factory, job_id, ctx)


@router.post("/transfers")
async def create_job(
    request: Request, factory: SessionFactoryDep, ctx: ContextDep, params: ParamsDep
) -> Response:
    """A transfer document makes a PENDING job; ``?PHASE=RUN`` starts it at once."""
    check_reader(ctx)
    transfer = parse_transfer(await xml_body(request))

    def create() -> str:
        with factory.begin() as session:
            return jobs.create(
                session,
                transfer,
                owner=ctx.user.name if ctx.user else None,
                settings=ctx.settings,
                run_id=one(params, "RUNID"),
            ).id

    job_id = await to_thread.run_sync(create)
    if (one(params, "PHASE") or "").upper() == "RUN":
        await _run(factory, job_id, ctx)
    return _see(_job_url(ctx, job_id))


def _job(session: Session, job_id: str, ctx: Context) -> VOSpaceJob:
    check_reader(ctx)
    return jobs.get(session, job_id, ctx.user)


@router.get("/transfers/{job_id}")
async def get_job(
    factory: SessionFactoryDep,
    ctx: ContextDep,
    job_id: str,
    wait: Annotated[float | None, Query(alias="WAIT")] = None,
    phase: Annotated[str | None, Query(alias="PHASE")] = None,
) -> Response:
    """The job; with WAIT=n, block up to n seconds while it is active (or in PHASE)."""

    def load() -> tuple[str, str]:
        with factory() as session:
            job = _job(session, job_id, ctx)
            return job.phase.value, render.job(jobs.view(job, ctx.base_url))

    current, body = await to_thread.run_sync(load)
    if wait is not None:
        deadline = asyncio.get_running_loop().time() + min(max(wait, 0), WAIT_LIMIT)
        start = current
        while (
            current in ("PENDING", "QUEUED", "EXECUTING")
            and current == start
            and (phase is None or current == phase.upper())
            and asyncio.get_running_loop().time() < deadline
        ):
            await asyncio.sleep(0.2)
            current, body = await to_thread.run_sync(load)
    return Response(body, media_type=XML)


@router.post("/transfers/{job_id}")
def post_job(session: SessionDep, ctx: ContextDep, job_id: str, params: ParamsDep) -> Response:
    if (one(params, "ACTION") or "").upper() != "DELETE":
        raise InvalidArgument("POST to a job takes ACTION=DELETE")
    jobs.destroy(session, _job(session, job_id, ctx))
    return _see(f"{ctx.base_url}/transfers")


@router.delete("/transfers/{job_id}")
def delete_job(session: SessionDep, ctx: ContextDep, job_id: str) -> Response:
    jobs.destroy(session, _job(session, job_id, ctx))
    return _see(f"{ctx.base_url}/transfers")


@router.get("/transfers/{job_id}/phase")
def get_phase(session: SessionDep, ctx: ContextDep, job_id: str) -> Response:
    return PlainTextResponse(_job(session, job_id, ctx).phase.value)


@router.post("/transfers/{job_id}/phase")
async def set_phase(
    factory: SessionFactoryDep, ctx: ContextDep, job_id: str, params: ParamsDep
) -> Response:
    value = (one(params, "PHASE") or "").upper()

    def check_and_abort() -> None:
        with factory.begin() as session:
            job = _job(session, job_id, ctx)
            if value == "ABORT":
                jobs.abort(job)

    if value not in ("RUN", "ABORT"):
        raise InvalidArgument("PHASE must be RUN or ABORT")
    await to_thread.run_sync(check_and_abort)
    if value == "RUN":
        await _run(factory, job_id, ctx)
    return _see(_job_url(ctx, job_id))


@router.get("/transfers/{job_id}/executionduration")
def get_duration(session: SessionDep, ctx: ContextDep, job_id: str) -> Response:
    return PlainTextResponse(str(_job(session, job_id, ctx).execution_duration))


@router.post("/transfers/{job_id}/executionduration")
def set_duration(session: SessionDep, ctx: ContextDep, job_id: str, params: ParamsDep) -> Response:
    jobs.set_execution_duration(_job(session, job_id, ctx), one(params, "EXECUTIONDURATION") or "")
    return _see(_job_url(ctx, job_id))


@router.get("/transfers/{job_id}/destruction")
def get_destruction(session: SessionDep, ctx: ContextDep, job_id: str) -> Response:
    return PlainTextResponse(jobs.iso(_job(session, job_id, ctx).destruction_time) or "")


@router.post("/transfers/{job_id}/destruction")
def set_destruction(
    session: SessionDep, ctx: ContextDep, job_id: str, params: ParamsDep
) -> Response:
    jobs.set_destruction(_job(session, job_id, ctx), one(params, "DESTRUCTION") or "")
    return _see(_job_url(ctx, job_id))


@router.get("/transfers/{job_id}/quote")
def get_quote(session: SessionDep, ctx: ContextDep, job_id: str) -> Response:
    _job(session, job_id, ctx)
    return PlainTextResponse("")


@router.get("/transfers/{job_id}/owner")
def get_owner(session: SessionDep, ctx: ContextDep, job_id: str) -> Response:
    return PlainTextResponse(_job(session, job_id, ctx).owner or "")


@router.get("/transfers/{job_id}/error")
def get_error(session: SessionDep, ctx: ContextDep, job_id: str) -> Response:
    """The bare fault name: the ``vos`` client compares this body with the names it knows."""
    job = _job(session, job_id, ctx)
    if job.phase is not UWSPhase.ERROR or not job.error_fault:
        raise NodeNotFound(f"job {job_id} has no error")
    return PlainTextResponse(job.error_fault)


@router.get("/transfers/{job_id}/parameters")
def get_parameters(session: SessionDep, ctx: ContextDep, job_id: str) -> Response:
    view = jobs.view(_job(session, job_id, ctx), ctx.base_url)
    return Response(
        render.DECLARATION + render.parameters_element(view, namespaces=True), media_type=XML
    )


@router.get("/transfers/{job_id}/results")
def get_results(session: SessionDep, ctx: ContextDep, job_id: str) -> Response:
    view = jobs.view(_job(session, job_id, ctx), ctx.base_url)
    return Response(
        render.DECLARATION + render.results_element(view, namespaces=True), media_type=XML
    )


@router.get("/transfers/{job_id}/results/transferDetails")
def get_details(session: SessionDep, ctx: ContextDep, job_id: str) -> Response:
    job = _job(session, job_id, ctx)
    if TransferDoc.from_json(job.request).is_internal:
        raise NodeNotFound(f"job {job_id} is a move or copy; it has no transfer details")
    return Response(render.transfer(jobs.details(job)), media_type=XML)


def _from_parameters(params: dict[str, list[str]]) -> TransferDoc:
    target, direction = one(params, "TARGET"), one(params, "DIRECTION")
    if not target or not direction:
        raise InvalidArgument("parameter mode needs TARGET, DIRECTION and PROTOCOL")
    methods = params.get("SECURITYMETHOD", [])
    return TransferDoc(
        target=target,
        direction=direction,
        view=one(params, "VIEW"),
        protocols=[
            ProtocolDoc(uri, security_methods=list(methods)) for uri in params.get("PROTOCOL", [])
        ],
    )


@router.get("/synctrans")
@router.post("/synctrans")
async def sync_transfer(
    request: Request, factory: SessionFactoryDep, ctx: ContextDep, params: ParamsDep
) -> Response:
    """XML mode: 303 to the job's transfer details. Parameter mode: the details, or with
    ``REQUEST=redirect`` a 303 straight to the data (pullFromVoSpace)."""
    check_reader(ctx)
    content_type = request.headers.get("content-type", "")
    xml_mode = (
        request.method == "POST"
        and "form-urlencoded" not in content_type
        and not params.get("TARGET")
    )
    transfer = parse_transfer(await xml_body(request)) if xml_mode else _from_parameters(params)
    redirect = (one(params, "REQUEST") or "").lower() in ("redirect", "true")

    def start() -> tuple[str, VOSpaceJob]:
        with factory.begin() as session:
            job = jobs.create(
                session, transfer, owner=ctx.user.name if ctx.user else None, settings=ctx.settings
            )
            if transfer.is_internal:
                jobs.fail(job, OperationNotSupported("moves and copies go through /transfers"))
                job.details = TransferDoc(transfer.target, transfer.direction).to_json()
            else:
                negotiate(session, job, ctx)
            session.expunge(job)
            return job.id, job

    job_id, job = await to_thread.run_sync(start)
    if xml_mode:
        return _see(f"{_job_url(ctx, job_id)}/results/transferDetails")
    if job.phase is UWSPhase.ERROR:
        raise _fault_of(job)
    details = jobs.details(job)
    if redirect:
        if transfer.direction != PULL_FROM:
            raise InvalidArgument("REQUEST=redirect is for pullFromVoSpace")
        return _see(details.protocols[0].endpoint or "")
    return Response(render.transfer(details), media_type=XML)


def _fault_of(job: VOSpaceJob) -> VOSpaceFault:
    cls = getattr(faults, job.error_fault or "InternalFault", faults.InternalFault)
    fault: VOSpaceFault = cls(job.error_message or "")
    return fault
