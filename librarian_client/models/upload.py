"""Upload pipeline: stage -> bytes (HTTP PUT or local copy) -> commit."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from librarian_client.models.common import ByteCount, Id, TransferStatus, WireModel


class StageItem(WireModel):
    name: str = Field(description="Destination name, a '/'-separated relative path.")
    size: ByteCount
    checksum: str | None = Field(
        default=None,
        description="'<algorithm>:<hex>'. Optional at stage; then the commit must carry it.",
    )


class UploadStageRequest(WireModel):
    files: list[StageItem] = Field(min_length=1, max_length=10_000)


class StageOutcome(StrEnum):
    STAGED = "staged"
    """A transfer was created; send the bytes, then commit."""
    ALREADY_PRESENT = "already_present"
    """The name exists with the same checksum: nothing to do (idempotent success)."""
    EXISTS = "exists"
    """The name exists and no checksum was given: compare ``existing_checksum`` yourself."""


class StagedTransfer(WireModel):
    name: str
    outcome: StageOutcome
    transfer_id: int | None = None
    put_path: str | None = Field(default=None, description="Server-relative URL for HTTP PUT.")
    local_path: str | None = Field(
        default=None, description="Where a client on the same filesystem may write the bytes."
    )
    store_marker: str | None = Field(
        default=None,
        description="Path of a marker file whose content equals store_uuid when the "
        "client shares the store's filesystem.",
    )
    store_uuid: str | None = None
    checksum_algorithm: str = "md5"
    existing_checksum: str | None = None
    existing_size: int | None = None


class UploadStageResponse(WireModel):
    transfers: list[StagedTransfer]


class UploadPutResponse(WireModel):
    transfer_id: int
    size: int
    checksum: str
    offset: int = Field(
        default=0, description="Where this request's bytes started: > 0 when it resumed."
    )


class UploadOffsetResponse(WireModel):
    """What the server durably holds of a staged transfer, for resuming its PUT."""

    transfer_id: int
    name: str
    status: TransferStatus
    expected_size: int
    checksum_algorithm: str
    offset: int = Field(
        description="Bytes held on disk (fsynced); resume with PUT ...?offset=<this>."
    )


class UploadBundleHeader(WireModel):
    """First line (JSON, then a newline) of a bundle body; the bytes of each transfer
    follow back to back in this order, each exactly its staged size."""

    transfer_ids: list[Id] = Field(min_length=1, max_length=10_000)


class UploadBundleResponse(WireModel):
    files: list[UploadPutResponse]


class CommitItem(WireModel):
    transfer_id: Id
    checksum: str | None = Field(
        default=None, description="Required when the stage did not carry a checksum."
    )


class UploadCommitRequest(WireModel):
    files: list[CommitItem] = Field(min_length=1, max_length=10_000)


class UploadCancelRequest(WireModel):
    transfer_ids: list[Id] = Field(min_length=1, max_length=10_000)


class UploadCancelResponse(WireModel):
    cancelled: list[int] = Field(description="Transfers cancelled now; others were not open.")


class CommittedFile(WireModel):
    name: str
    transfer_id: int
    size: int
    checksum: str


class UploadCommitResponse(WireModel):
    files: list[CommittedFile]


class TransferInfo(WireModel):
    id: int
    name: str
    status: TransferStatus
    expected_size: int
    expected_checksum: str | None
    received_size: int | None
    transfer_manager: str
    uploader: str | None
    created_time: datetime
    updated_time: datetime
    error: str | None
