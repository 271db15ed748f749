"""Operators' view of replication: peers, transfers, batches, and running a task now."""

from __future__ import annotations

from anyio import to_thread
from fastapi import APIRouter

from librarian_client.models import (
    BulkRetryRequest,
    BulkRetryResponse,
    Direction,
    PeerInfo,
    SendQueueInfo,
    TaskInfo,
    TaskRunResult,
    TransferActionResponse,
    TransferListResponse,
    TransferStatus,
)
from librarian_server.api.deps import Admin, RunnerDep, SessionDep
from librarian_server.api.params import PageLimit, TransferIdPath
from librarian_server.orm import QueueStatus
from librarian_server.services.replication import peers, transfer_admin

router = APIRouter(tags=["replication"])


@router.get("/peers", response_model=list[PeerInfo])
def list_peers(session: SessionDep, _: Admin) -> list[PeerInfo]:
    return [peers.peer_info(p) for p in peers.list_peers(session)]


@router.get("/transfers", response_model=TransferListResponse)
def list_transfers(
    session: SessionDep,
    _: Admin,
    direction: Direction = Direction.OUTGOING,
    status: TransferStatus | None = None,
    peer: str | None = None,
    limit: PageLimit = 100,
    cursor: str | None = None,
) -> TransferListResponse:
    return transfer_admin.list_transfers(
        session, direction=direction, status=status, peer=peer, limit=limit, cursor=cursor
    )


@router.post("/transfers/retry", response_model=BulkRetryResponse)
def retry_many(request: BulkRetryRequest, session: SessionDep, _: Admin) -> BulkRetryResponse:
    """Requeue every outgoing transfer matching the filter (FAILED by default), e.g. all
    those to one peer after an outage that predates automatic backoff."""
    return transfer_admin.retry_many(session, request)


@router.post("/transfers/{transfer_id}/retry", response_model=TransferActionResponse)
def retry(transfer_id: TransferIdPath, session: SessionDep, _: Admin) -> TransferActionResponse:
    return transfer_admin.retry_outgoing(session, transfer_id)


@router.post("/transfers/{transfer_id}/cancel", response_model=TransferActionResponse)
def cancel(transfer_id: TransferIdPath, session: SessionDep, user: Admin) -> TransferActionResponse:
    return transfer_admin.cancel_outgoing(session, transfer_id, by=user.name)


@router.get("/queues", response_model=list[SendQueueInfo])
def list_queues(
    session: SessionDep,
    _: Admin,
    status: QueueStatus | None = None,
    peer: str | None = None,
    limit: PageLimit = 100,
) -> list[SendQueueInfo]:
    return transfer_admin.list_queues(session, status=status, peer=peer, limit=limit)


@router.get("/tasks", response_model=list[TaskInfo])
def list_tasks(runner: RunnerDep, _: Admin) -> list[TaskInfo]:
    return runner.infos()


@router.post("/tasks/{name}/run", response_model=TaskRunResult)
async def run_task(name: str, runner: RunnerDep, _: Admin) -> TaskRunResult:
    """Run one background task now, here, and wait for it (bounded by its time limit)."""
    return await to_thread.run_sync(runner.run_task, name)
