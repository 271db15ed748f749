"""The peer protocol, receiving side: stage a batch, take its bytes, commit it, report."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request, Response
from fastapi.responses import StreamingResponse

from librarian_client.models import (
    API_PREFIX,
    CloneBundleResponse,
    CloneCompleteRequest,
    CloneCompleteResponse,
    CloneOutcome,
    CloneStageRequest,
    CloneStageResponse,
    CloneStatusRequest,
    CloneStatusResponse,
    UploadPutResponse,
)
from librarian_server.api.deps import Peer, RunnerDep, SessionDep, SessionFactoryDep, SettingsDep
from librarian_server.api.params import TransferIdPath
from librarian_server.api.streaming import digest_header, download_response, ranged
from librarian_server.services.catalogue import files
from librarian_server.services.ingest import receive
from librarian_server.services.replication import clone_receive

router = APIRouter(prefix="/clone", tags=["replication"])


def put_path(transfer_id: int) -> str:
    """Where a staged clone's bytes go: ``put_bytes`` below, server-relative."""
    return f"{API_PREFIX}{router.prefix}/{transfer_id}"


@router.post("/stage", response_model=CloneStageResponse)
def stage(
    body: CloneStageRequest,
    session: SessionDep,
    settings: SettingsDep,
    runner: RunnerDep,
    user: Peer,
) -> CloneStageResponse:
    response = clone_receive.stage_clones(
        session, body, user=user, settings=settings, receivable=runner.managers.receivable()
    )
    for item in response.files:
        if item.outcome is CloneOutcome.STAGED and item.transfer_id is not None:
            item.put_path = put_path(item.transfer_id)
    return response


@router.put("/{transfer_id}", response_model=UploadPutResponse)
async def put_bytes(
    transfer_id: TransferIdPath,
    request: Request,
    response: Response,
    factory: SessionFactoryDep,
    user: Peer,
) -> UploadPutResponse:
    result = await receive.receive(
        factory, transfer_id, request.stream(), user=user, caller="clone.put"
    )
    if (digest := digest_header(result.checksum)) is not None:
        response.headers["Digest"] = digest
    return result


@router.post("/bundle", response_model=CloneBundleResponse)
async def put_bundle(
    request: Request, factory: SessionFactoryDep, user: Peer
) -> CloneBundleResponse:
    """Many staged files' bytes in one body; each accepted or refused on its own."""
    return CloneBundleResponse(
        files=await receive.receive_bundle_each(factory, request.stream(), user=user)
    )


@router.post("/complete", response_model=CloneCompleteResponse)
def complete(
    body: CloneCompleteRequest, factory: SessionFactoryDep, settings: SettingsDep, user: Peer
) -> CloneCompleteResponse:
    return clone_receive.complete_clones(factory, body, user=user, settings=settings)


@router.post("/status", response_model=CloneStatusResponse)
def status(body: CloneStatusRequest, session: SessionDep, user: Peer) -> CloneStatusResponse:
    return clone_receive.clone_status(session, body, user=user)


@router.get("/download/{name:path}", response_class=StreamingResponse)
def download(
    name: str,
    session: SessionDep,
    _: Peer,
    range_: Annotated[str | None, Header(alias="range")] = None,
) -> Response:
    """A file's bytes for a peer repairing its own copy (peer accounts read nothing else)."""
    d = ranged(files.prepare_download(session, name), range_)
    return download_response(d, headers={"X-Librarian-Checksum": d.checksum})
