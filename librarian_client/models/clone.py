"""The peer protocol: batch stage, bytes, batch complete, status, and check-ins.

Every call names the sending site and is keyed by the sender's OutgoingTransfer
id (``source_transfer_id``), so a call repeated after a lost answer changes nothing.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from librarian_client.models.common import ByteCount, Id, WireModel

MAX_CLONE_BATCH = 10_000


class CloneOutcome(StrEnum):
    STAGED = "staged"
    """A transfer waits for the bytes; send them, then complete."""
    ALREADY_PRESENT = "already_present"
    """The receiver holds this file (same checksum): nothing to send."""
    CONFLICT = "conflict"
    """The receiver holds the name with other contents: never send it there."""
    REFUSED = "refused"
    """The receiver's name rule refuses this name (see ``reason``): never send it there."""
    COMMITTED = "committed"
    """The copy is verified and catalogued at the receiver."""
    PENDING = "pending"
    """Bytes declared complete and being verified; a check-in will follow."""
    FAILED = "failed"
    """The receiver refused the bytes (see ``reason``); stage again to retry."""
    UNKNOWN = "unknown"
    """The receiver has no record of this transfer."""


class CloneStageItem(WireModel):
    source_transfer_id: Id
    name: str
    size: ByteCount
    checksum: str
    origin: str = Field(description="Site where the file was first uploaded.")
    uploader: str


class CloneStageRequest(WireModel):
    source: str = Field(description="The sending site; a peer account may only send as itself.")
    files: list[CloneStageItem] = Field(min_length=1, max_length=MAX_CLONE_BATCH)


class CloneStagedItem(WireModel):
    source_transfer_id: int
    outcome: CloneOutcome
    transfer_id: int | None = Field(default=None, description="The receiver's transfer id.")
    put_path: str | None = None
    local_path: str | None = None
    globus_path: str | None = None
    checksum: str | None = Field(default=None, description="The receiver's, on a conflict.")
    reason: str | None = None


class LocalOffer(WireModel):
    """A sender that reads this marker with this content shares the receiver's store."""

    store_marker: str
    store_uuid: str


class GlobusOffer(WireModel):
    endpoint_id: str


class CloneStageResponse(WireModel):
    site: str
    files: list[CloneStagedItem]
    managers: list[str] = Field(description="Transfer managers the receiver takes now.")
    local: LocalOffer | None = None
    globus: GlobusOffer | None = None


class CloneReceived(WireModel):
    """What the receiver made of one file's bytes in a bundle."""

    transfer_id: int
    size: int
    checksum: str
    reason: str | None = Field(default=None, description="Why the bytes were refused.")


class CloneBundleResponse(WireModel):
    files: list[CloneReceived]


class CloneCompleteItem(WireModel):
    transfer_id: Id
    source_transfer_id: Id


class CloneCompleteRequest(WireModel):
    source: str
    transfer_manager: str
    files: list[CloneCompleteItem] = Field(min_length=1, max_length=MAX_CLONE_BATCH)


class CloneResult(WireModel):
    source_transfer_id: int
    outcome: CloneOutcome
    transfer_id: int | None = None
    checksum: str | None = None
    reason: str | None = None


class CloneCompleteResponse(WireModel):
    files: list[CloneResult]


class CloneStatusRequest(WireModel):
    source: str
    source_transfer_ids: list[Id] = Field(min_length=1, max_length=MAX_CLONE_BATCH)


class CloneStatusResponse(WireModel):
    files: list[CloneResult]


class CheckinItem(WireModel):
    """A sender's transfer committed or refused; or, with ``holder``, a notice to a file's
    origin that a third site holds it (then there is no transfer id)."""

    source_transfer_id: Id | None = None
    name: str
    committed: bool
    checksum: str | None = None
    reason: str | None = None
    holder: str | None = None


class CheckinRequest(WireModel):
    site: str = Field(description="The site confirming: where the copies now are.")
    files: list[CheckinItem] = Field(min_length=1, max_length=MAX_CLONE_BATCH)


class CheckinResponse(WireModel):
    recorded: list[int] = Field(description="Transfers whose outcome is now recorded.")
    unknown: list[int] = Field(description="Transfers the source has no record of.")


class OutgoingStatusRequest(WireModel):
    site: str
    source_transfer_ids: list[Id] = Field(min_length=1, max_length=MAX_CLONE_BATCH)


class OutgoingStatusResponse(WireModel):
    live: list[int] = Field(description="Still wanted; the others may be dropped.")
