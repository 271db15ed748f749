"""What operators see of replication: peers, transfers, send queues, background tasks."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import Field

from .common import TransferStatus, WireModel


class PeerInfo(WireModel):
    name: str
    url: str
    username: str
    push: bool
    forward: bool
    push_name_glob: str | None
    push_created_after: datetime | None
    transfer_managers: list[str]
    enabled: bool
    last_contact: datetime | None
    last_error: str | None
    created_time: datetime


class Direction(StrEnum):
    OUTGOING = "outgoing"
    INCOMING = "incoming"


class TransferRow(WireModel):
    """One transfer either way, with what an operator needs to judge it."""

    id: int
    direction: Direction
    name: str
    peer: str | None = Field(description="Destination (outgoing) or sending site (incoming).")
    status: TransferStatus
    transfer_manager: str | None
    size: int
    attempts: int = 0
    send_queue_id: int | None = None
    remote_transfer_id: int | None = None
    external_id: str | None = None
    error: str | None
    created_time: datetime
    updated_time: datetime


class TransferListResponse(WireModel):
    transfers: list[TransferRow]
    next_cursor: str | None = None


class TransferActionResponse(WireModel):
    id: int
    status: TransferStatus


class SendQueueInfo(WireModel):
    id: int
    destination: str
    status: str
    transfer_manager: str | None
    external_id: str | None
    file_count: int
    total_bytes: int
    done_count: int
    failed_count: int
    claimed_by: str | None = Field(description="The worker that last took the batch.")
    error: str | None
    created_time: datetime
    updated_time: datetime
    completed_time: datetime | None


class TaskInfo(WireModel):
    name: str
    enabled: bool
    every_seconds: float
    time_limit_seconds: float
    batch_size: int


class TaskRunResult(WireModel):
    name: str
    ok: bool
    seconds: float
    summary: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None
