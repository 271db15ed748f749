"""UWS job list ``/transfers`` and synchronous ``/synctrans`` (XML and parameter modes)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import PlainTextResponse, RedirectResponse

from librarian_server.api.deps import SessionDep, SessionFactoryDep
from librarian_server.api.params import JobCount
from librarian_server.orm import UWSPhase, VOSpaceJob
from librarian_server.services.vospace import faults, jobs, uws
from librarian_server.services.vospace.faults import (
    InvalidArgument,
    NodeNotFound,
    VOSpaceFault,
)
from librarian_server.services.vospace.model import PULL_FROM, ProtocolDoc, TransferDoc
from librarian_server.services.vospace.transfers import Context, check_reader
from librarian_server.vospace import render, views
from librarian_server.vospace.deps import ContextDep, ParamsDep, one, xml_body
from librarian_server.vospace.parse import parse_transfer

router = APIRouter(tags=["vospace"])
XML = "text/xml; charset=utf-8"


def _see(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _job_url(ctx: Context, job_id: str) -> str:
    return views.href(ctx.base_url, job_id)


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
    return Response(render.jobs(views.view(j, ctx.base_url) for j in found), media_type=XML)


@router.post("/transfers")
async def create_job(
    request: Request, factory: SessionFactoryDep, ctx: ContextDep, params: ParamsDep
) -> Response:
    """A transfer document makes a PENDING job; ``?PHASE=RUN`` starts it at once."""
    check_reader(ctx)
    transfer = parse_transfer(await xml_body(request))
    start = (one(params, "PHASE") or "").upper() == "RUN"
    job_id = await uws.create(factory, transfer, ctx, run_id=one(params, "RUNID"), start=start)
    return _see(_job_url(ctx, job_id))


@router.get("/transfers/{job_id}")
async def get_job(
    factory: SessionFactoryDep,
    ctx: ContextDep,
    job_id: str,
    wait: Annotated[float | None, Query(alias="WAIT")] = None,
    phase: Annotated[str | None, Query(alias="PHASE")] = None,
) -> Response:
    """The job; with WAIT=n, block up to n seconds while it is active (or in PHASE)."""
    job = await uws.wait(factory, job_id, ctx, seconds=wait, phase=phase)
    return Response(render.job(views.view(job, ctx.base_url)), media_type=XML)


@router.post("/transfers/{job_id}")
def post_job(session: SessionDep, ctx: ContextDep, job_id: str, params: ParamsDep) -> Response:
    if (one(params, "ACTION") or "").upper() != "DELETE":
        raise InvalidArgument("POST to a job takes ACTION=DELETE")
    jobs.destroy(session, uws.job(session, job_id, ctx))
    return _see(f"{ctx.base_url}/transfers")


@router.delete("/transfers/{job_id}")
def delete_job(session: SessionDep, ctx: ContextDep, job_id: str) -> Response:
    jobs.destroy(session, uws.job(session, job_id, ctx))
    return _see(f"{ctx.base_url}/transfers")


@router.get("/transfers/{job_id}/phase")
def get_phase(session: SessionDep, ctx: ContextDep, job_id: str) -> Response:
    return PlainTextResponse(uws.job(session, job_id, ctx).phase.value)


@router.post("/transfers/{job_id}/phase")
async def set_phase(
    factory: SessionFactoryDep, ctx: ContextDep, job_id: str, params: ParamsDep
) -> Response:
    await uws.set_phase(factory, job_id, ctx, (one(params, "PHASE") or "").upper())
    return _see(_job_url(ctx, job_id))


@router.get("/transfers/{job_id}/executionduration")
def get_duration(session: SessionDep, ctx: ContextDep, job_id: str) -> Response:
    return PlainTextResponse(str(uws.job(session, job_id, ctx).execution_duration))


@router.post("/transfers/{job_id}/executionduration")
def set_duration(session: SessionDep, ctx: ContextDep, job_id: str, params: ParamsDep) -> Response:
    jobs.set_execution_duration(
        uws.job(session, job_id, ctx), one(params, "EXECUTIONDURATION") or ""
    )
    return _see(_job_url(ctx, job_id))


@router.get("/transfers/{job_id}/destruction")
def get_destruction(session: SessionDep, ctx: ContextDep, job_id: str) -> Response:
    return PlainTextResponse(views.iso(uws.job(session, job_id, ctx).destruction_time) or "")


@router.post("/transfers/{job_id}/destruction")
def set_destruction(
    session: SessionDep, ctx: ContextDep, job_id: str, params: ParamsDep
) -> Response:
    jobs.set_destruction(uws.job(session, job_id, ctx), one(params, "DESTRUCTION") or "")
    return _see(_job_url(ctx, job_id))


@router.get("/transfers/{job_id}/quote")
def get_quote(session: SessionDep, ctx: ContextDep, job_id: str) -> Response:
    uws.job(session, job_id, ctx)
    return PlainTextResponse("")


@router.get("/transfers/{job_id}/owner")
def get_owner(session: SessionDep, ctx: ContextDep, job_id: str) -> Response:
    return PlainTextResponse(uws.job(session, job_id, ctx).owner or "")


@router.get("/transfers/{job_id}/error")
def get_error(session: SessionDep, ctx: ContextDep, job_id: str) -> Response:
    """The bare fault name: the ``vos`` client compares this body with the names it knows."""
    job = uws.job(session, job_id, ctx)
    if job.phase is not UWSPhase.ERROR or not job.error_fault:
        raise NodeNotFound(f"job {job_id} has no error")
    return PlainTextResponse(job.error_fault)


@router.get("/transfers/{job_id}/parameters")
def get_parameters(session: SessionDep, ctx: ContextDep, job_id: str) -> Response:
    view = views.view(uws.job(session, job_id, ctx), ctx.base_url)
    return Response(
        render.DECLARATION + render.parameters_element(view, namespaces=True), media_type=XML
    )


@router.get("/transfers/{job_id}/results")
def get_results(session: SessionDep, ctx: ContextDep, job_id: str) -> Response:
    view = views.view(uws.job(session, job_id, ctx), ctx.base_url)
    return Response(
        render.DECLARATION + render.results_element(view, namespaces=True), media_type=XML
    )


@router.get("/transfers/{job_id}/results/transferDetails")
def get_details(session: SessionDep, ctx: ContextDep, job_id: str) -> Response:
    job = uws.job(session, job_id, ctx)
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
    job = await uws.sync(factory, transfer, ctx)
    if xml_mode:
        return _see(f"{_job_url(ctx, job.id)}/results/transferDetails")
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
