"""What operators see of replication: peers, transfers, send queues, background tasks."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import Field

from librarian_client.limits import Direction as Direction
from librarian_client.models.common import TransferStatus, WireModel


class PeerHealth(StrEnum):
    """``ok``; ``failing``: its last batch failed but it may be tried now; ``backing-off``:
    it could not be reached and nothing goes to it before ``next_attempt_after``."""

    OK = "ok"
    FAILING = "failing"
    BACKING_OFF = "backing-off"
    DISABLED = "disabled"


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
    health: PeerHealth = PeerHealth.OK
    consecutive_failures: int = Field(
        default=0, description="Batches in a row that failed because the peer was unreachable."
    )
    next_attempt_after: datetime | None = Field(
        default=None, description="While backing off: nothing is sent to the peer before this."
    )


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


class BulkRetryRequest(WireModel):
    """Which outgoing transfers to send again: by status (FAILED by default) and peer."""

    status: TransferStatus = TransferStatus.FAILED
    peer: str | None = None
    limit: int = Field(default=10_000, ge=1, le=1_000_000)


class BulkRetryResponse(WireModel):
    requeued: int = Field(description="Transfers put back in the pool to be sent again.")
    skipped: int = Field(
        default=0,
        description="Matching transfers left as they are: another transfer of the same file "
        "to the same peer is already under way.",
    )


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
