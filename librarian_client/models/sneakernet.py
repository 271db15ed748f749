"""Sneakernet: exporting the files a peer lacks onto a disk, and ingesting a disk."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from librarian_client.models.common import MAX_BYTES, WireModel
from librarian_client.models.errors import ErrorCode


class SneakernetExportRequest(WireModel):
    peer: str
    path: str = Field(description="Where the disk is mounted on the server, e.g. /mnt/disk1.")
    max_bytes: int | None = Field(default=None, ge=1, le=MAX_BYTES)


class SneakernetIngestRequest(WireModel):
    path: str = Field(description="A mounted disk, or one export directory on it.")
    accept_unsigned: bool = Field(
        default=False,
        description="Ingest a disk whose manifest is unsigned or fails its signature "
        "(its origin and uploader are then taken on trust); logged as a warning.",
    )


class DiskProblem(WireModel):
    name: str
    reason: str


ExportStop = Literal["complete", "disk_full", "max_bytes", "interrupted", "nothing_to_send"]
"""Why an export ended: all chosen files written, the disk full, the byte budget reached,
the client gone, or nothing the peer lacks."""


class ExportSummary(WireModel):
    label: str
    path: str
    peer: str
    files: int
    bytes: int
    stopped: ExportStop
    left: int = Field(default=0, description="Files the peer still lacks after this disk.")
    problems: list[DiskProblem] = Field(default_factory=list)


class IngestSummary(WireModel):
    labels: list[str]
    files: int = Field(description="Files listed in the manifests read.")
    committed: int = 0
    already_present: int = 0
    bad: list[DiskProblem] = Field(default_factory=list)
    missing: list[DiskProblem] = Field(default_factory=list)
    conflicts: list[DiskProblem] = Field(default_factory=list)
    unverified: list[DiskProblem] = Field(
        default_factory=list,
        description="Exports ingested by override although unsigned or mis-signed "
        "(name: the export's label).",
    )


class DiskEvent(WireModel):
    """One line of an export's or ingest's streamed answer (newline-delimited JSON).

    The answer's own status is 200 before the work starts, so an ``error`` line carries
    what an error body would: the status the failure stands for, its code, its reason
    and the remedy."""

    event: Literal["start", "progress", "done", "error"]
    files: int = 0
    bytes: int = 0
    total_files: int | None = None
    total_bytes: int | None = None
    export: ExportSummary | None = None
    ingest: IngestSummary | None = None
    status: int | None = Field(default=None, ge=400, le=599)
    code: ErrorCode | None = None
    reason: str | None = None
    suggested_remedy: str | None = None


class DiskInfo(WireModel):
    """A disk sent to a peer, and how much of it the peer has confirmed."""

    label: str
    destination: str
    queue_id: int
    created_time: datetime
    files: int
    bytes: int
    confirmed: int
    unconfirmed: int
    returned: int = Field(description="Refused or requeued: sent again by another route.")
    overdue: bool


class RequeueResponse(WireModel):
    label: str
    requeued: int
