"""Upload pipeline endpoints: stage, PUT bytes, commit."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from librarian_client.models import (
    API_PREFIX,
    MAX_BYTES,
    StageOutcome,
    UploadBundleResponse,
    UploadCancelRequest,
    UploadCancelResponse,
    UploadCommitRequest,
    UploadCommitResponse,
    UploadOffsetResponse,
    UploadPutResponse,
    UploadStageRequest,
    UploadStageResponse,
)
from librarian_server.api.deps import SessionDep, SessionFactoryDep, SettingsDep, Writer
from librarian_server.api.params import TransferIdPath
from librarian_server.api.streaming import digest_header
from librarian_server.services.ingest import receive, resume, transfers, upload

router = APIRouter(prefix="/upload", tags=["upload"])


def put_path(transfer_id: int) -> str:
    """Where a staged upload's bytes go: ``put_bytes`` below, server-relative."""
    return f"{API_PREFIX}{router.prefix}/{transfer_id}"


@router.post("/stage", response_model=UploadStageResponse)
def stage(
    body: UploadStageRequest, session: SessionDep, settings: SettingsDep, user: Writer
) -> UploadStageResponse:
    staged = upload.stage(session, body.files, user=user, settings=settings)
    for item in staged:
        if item.outcome is StageOutcome.STAGED and item.transfer_id is not None:
            item.put_path = put_path(item.transfer_id)
    return UploadStageResponse(transfers=staged)


@router.get("/{transfer_id}", response_model=UploadOffsetResponse)
def held_bytes(
    transfer_id: TransferIdPath, factory: SessionFactoryDep, user: Writer
) -> UploadOffsetResponse:
    """How many bytes of a staged transfer the server holds (fsynced): resume from there."""
    return resume.held_offset(factory, transfer_id, user)


@router.put("/{transfer_id}", response_model=UploadPutResponse)
async def put_bytes(
    transfer_id: TransferIdPath,
    request: Request,
    response: Response,
    factory: SessionFactoryDep,
    user: Writer,
    offset: Annotated[
        int, Query(ge=0, le=MAX_BYTES, description="Resume: the bytes start here.")
    ] = 0,
) -> UploadPutResponse:
    result = await receive.receive(
        factory, transfer_id, request.stream(), user=user, offset=offset, resumable=True
    )
    if (digest := digest_header(result.checksum)) is not None:
        response.headers["Digest"] = digest
    return result


@router.post("/bundle", response_model=UploadBundleResponse)
async def put_bundle(
    request: Request, factory: SessionFactoryDep, user: Writer
) -> UploadBundleResponse:
    """Many staged transfers' bytes in one body: a JSON header line, then the bytes."""
    return UploadBundleResponse(
        files=await receive.receive_bundle(factory, request.stream(), user=user)
    )


@router.post("/cancel", response_model=UploadCancelResponse)
def cancel(body: UploadCancelRequest, session: SessionDep, user: Writer) -> UploadCancelResponse:
    """Give up on staged uploads: their bytes are deleted and their room released."""
    return UploadCancelResponse(cancelled=transfers.cancel_many(session, body.transfer_ids, user))


@router.post("/commit", response_model=UploadCommitResponse)
def commit(
    body: UploadCommitRequest, factory: SessionFactoryDep, settings: SettingsDep, user: Writer
) -> UploadCommitResponse:
    return UploadCommitResponse(
        files=upload.commit(factory, body.files, user=user, settings=settings)
    )
