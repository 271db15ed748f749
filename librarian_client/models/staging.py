"""Staging jobs: bringing files that sit only on a cold (tape) store back onto disk.

Asynchronous like the tape behind it: the answer to a request is a job id, and a
job's caller either polls it or names a ``notify_url`` to be called back, once,
with a signed summary when the job completes or fails.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field, model_validator

from librarian_client.models.common import WireModel

MAX_STAGING_FILES = 1_000_000
"""Files one job may name (by list, prefix or glob)."""
MAX_STAGING_PAGE = 10_000

SIGNATURE_HEADER = "X-Librarian-Signature"
"""``t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>" under the job's secret>``."""
DELIVERY_HEADER = "X-Librarian-Delivery"
"""One id per notification: a receiver that sees it twice has seen it once."""


class StagingJobState(StrEnum):
    PENDING = "pending"
    COMPLETE = "complete"
    FAILED = "failed"
    CANCELLED = "cancelled"


class StagedFileState(StrEnum):
    PENDING = "pending"
    READY = "ready"
    ERROR = "error"


class StagingRequest(WireModel):
    """Name the files by a list, a prefix or a glob (exactly one of them)."""

    names: list[str] = Field(default_factory=list, max_length=MAX_STAGING_PAGE)
    prefix: str | None = Field(default=None, min_length=1)
    glob: str | None = Field(default=None, min_length=1)
    notify_url: str | None = Field(
        default=None,
        pattern=r"^https?://[^\s]+$",
        max_length=2048,
        description="Called with the job's summary (POST, JSON, signed) when it ends.",
    )
    expires_in_seconds: float | None = Field(
        default=None, gt=0, description="Fail the job if not every file is ready by then."
    )

    @model_validator(mode="after")
    def _one_selector(self) -> StagingRequest:
        given = sum(1 for x in (self.names, self.prefix, self.glob) if x)
        if given != 1:
            raise ValueError("name the files by exactly one of names, prefix or glob")
        return self


class StagingFileInfo(WireModel):
    name: str
    state: StagedFileState
    ready_time: datetime | None = None
    error: str | None = None


class StagingCounts(WireModel):
    total: int
    ready: int
    pending: int
    error: int


class StagingJobInfo(WireModel):
    id: str
    owner: str
    state: StagingJobState
    counts: StagingCounts
    created_time: datetime
    expires_time: datetime
    finished_time: datetime | None = None
    reason: str | None = Field(default=None, description="Why the job failed or was cancelled.")
    notify_url: str | None = None
    notify_secret: str | None = Field(
        default=None,
        description="The key notifications are signed with (HMAC-SHA256); shown to the "
        "job's owner only.",
    )
    files: list[StagingFileInfo] = Field(
        default_factory=list, description="A page of the job's files, by name."
    )
    next_after: str | None = Field(
        default=None, description="Pass as ``after`` for the next page of files."
    )


class StagingNotification(WireModel):
    """The body a job's ``notify_url`` receives."""

    job: str
    site: str
    state: StagingJobState
    counts: StagingCounts
    reason: str | None = None
    finished_time: datetime
    errors: list[StagingFileInfo] = Field(
        default_factory=list, description="The files that failed (the first thousand)."
    )


class StagingJobList(WireModel):
    jobs: list[StagingJobInfo]
