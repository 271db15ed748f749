"""Disks carried by hand: export what a peer lacks, ingest a disk, see the disks out."""

from __future__ import annotations

from functools import partial

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from librarian_client.models import (
    DiskInfo,
    RequeueResponse,
    SneakernetExportRequest,
    SneakernetIngestRequest,
)
from librarian_server.api.deps import Admin, SessionDep, SessionFactoryDep, SettingsDep
from librarian_server.services.sneakernet import disks as sneakernet_disks
from librarian_server.services.sneakernet import export as sneakernet_export
from librarian_server.services.sneakernet import ingest as sneakernet_ingest
from librarian_server.services.sneakernet.progress import stream

router = APIRouter(prefix="/sneakernet", tags=["sneakernet"])
NDJSON = "application/x-ndjson"


@router.post("/export", response_class=StreamingResponse)
def export(
    body: SneakernetExportRequest, factory: SessionFactoryDep, settings: SettingsDep, _: Admin
) -> StreamingResponse:
    """Write the files the peer lacks to a disk mounted on the server; streams progress."""
    root = sneakernet_export.disk_path(body.path, settings, writable=True)
    with factory() as session:
        sneakernet_export.check_peer(session, body.peer)
    work = partial(
        sneakernet_export.export_disk,
        factory,
        settings,
        peer=body.peer,
        root=root,
        max_bytes=body.max_bytes,
    )
    return StreamingResponse(stream(lambda r: work(reporter=r), "export"), media_type=NDJSON)


@router.post("/ingest", response_class=StreamingResponse)
def ingest(
    body: SneakernetIngestRequest, factory: SessionFactoryDep, settings: SettingsDep, user: Admin
) -> StreamingResponse:
    """Verify and commit the files on a disk mounted on the server; streams progress."""
    path = sneakernet_export.disk_path(body.path, settings, writable=False)
    readers = sneakernet_ingest.open_disk(
        path, settings, factory, accept_unsigned=body.accept_unsigned, by=user.name
    )
    work = partial(sneakernet_ingest.ingest_disk, factory, settings, readers=readers, user=user)
    return StreamingResponse(stream(lambda r: work(reporter=r), "ingest"), media_type=NDJSON)


@router.get("/disks", response_model=list[DiskInfo])
def disks(session: SessionDep, settings: SettingsDep, _: Admin) -> list[DiskInfo]:
    return sneakernet_disks.disks(session, settings)


@router.post("/disks/{label}/requeue", response_model=RequeueResponse)
def requeue(
    label: str, session: SessionDep, settings: SettingsDep, _: Admin, overdue_only: bool = False
) -> RequeueResponse:
    """Send the disk's unconfirmed files another way."""
    return sneakernet_disks.requeue(session, settings, label, overdue_only=overdue_only)
