"""Proving copies on demand: which files to re-hash, and what each copy was found to be."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Self

from pydantic import Field, model_validator

from librarian_client.models.common import WireModel

MAX_VERIFY_FILES = 1000
"""Files re-hashed by one request; the CLI pages through larger sets."""


class Finding(StrEnum):
    """What re-reading a copy (or walking a store) found."""

    OK = "ok"
    MISSING = "missing"
    WRONG_SIZE = "wrong_size"
    CORRUPT = "corrupt"
    UNREADABLE = "unreadable"
    DARK = "dark"
    """Bytes in a store that no catalogue row names (only a store walk finds these)."""


class DamageState(StrEnum):
    """Where a damage record stands. Only OPEN and LOST records are still active."""

    OPEN = "open"
    """Found; repair not yet done (or, for a dark file, awaiting an operator)."""
    LOST = "lost"
    """Every known copy is bad: nothing was deleted; an operator must act."""
    REPAIRED = "repaired"
    REGISTERED = "registered"
    QUARANTINED = "quarantined"
    DELETED = "deleted"
    GONE = "gone"
    """The finding no longer holds (the file was deleted, or the stray bytes vanished)."""


ACTIVE_DAMAGE = frozenset({DamageState.OPEN, DamageState.LOST})


class VerifyRequest(WireModel):
    """Re-hash every copy at this site of the named files, or of files under a prefix."""

    names: list[str] = Field(default_factory=list, max_length=MAX_VERIFY_FILES)
    prefix: str | None = Field(default=None, max_length=4096)
    after: str | None = Field(
        default=None, description="With prefix: start after this name (the previous `next`)."
    )
    limit: int = Field(default=100, ge=1, le=MAX_VERIFY_FILES)

    @model_validator(mode="after")
    def _one_selection(self) -> Self:
        if bool(self.names) == (self.prefix is not None):
            raise ValueError("give either names or a prefix, not both and not neither")
        return self


class CopyCheck(WireModel):
    name: str
    store: str
    path: str
    finding: Finding
    detail: str = ""


class VerifyResponse(WireModel):
    copies: list[CopyCheck]
    files: int = Field(description="Files whose copies were re-hashed.")
    without_copy: list[str] = Field(
        default_factory=list, description="Named files with no copy on this site's stores."
    )
    next: str | None = Field(
        default=None, description="With prefix: more files follow; pass as `after`."
    )


MAX_DAMAGE_PAGE = 1000


class DamageInfo(WireModel):
    id: int
    name: str | None = Field(description="The catalogued file; None for a dark file.")
    store: str
    path: str = Field(description="Store-relative path of the damaged (or stray) bytes.")
    kind: Finding
    state: DamageState
    found_time: datetime
    updated_time: datetime
    found_by: str
    detail: str = ""
    resolution: str | None = Field(
        default=None, description="How it ended: the source that repaired it, or why lost."
    )
    attempts: int = 0


class DamageQuery(WireModel):
    state: DamageState | None = None
    active: bool | None = Field(default=None, description="Only open and lost records.")
    store: str | None = None
    kind: Finding | None = None
    after: int | None = Field(default=None, description="Start after this id (`next`).")
    limit: int = Field(default=100, ge=1, le=MAX_DAMAGE_PAGE)


class DamageListResponse(WireModel):
    damage: list[DamageInfo]
    next: int | None = None


class RepairResponse(WireModel):
    damage: DamageInfo
