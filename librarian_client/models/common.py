"""Shapes shared by every endpoint."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

API_PREFIX = "/api/v2"
"""Where the server mounts its JSON API; every client path starts with it."""
MAX_ID = 2**31 - 1
"""Row ids are 32-bit on PostgreSQL; a larger id names nothing, so it is refused (400)."""
MAX_BYTES = 2**63 - 1
"""Sizes and byte counts are signed 64-bit in the catalogue."""
MAX_SECONDS = 10 * 366 * 24 * 3600
"""Ten years: the longest duration a request may ask for (token lifetimes)."""

Id = Annotated[int, Field(ge=1, le=MAX_ID, description=f"A row id, 1 to {MAX_ID}.")]
ByteCount = Annotated[int, Field(ge=0, le=MAX_BYTES)]


def no_nul(value: Any) -> Any:
    """Refuse NUL in text: no name holds one, and PostgreSQL cannot store one (a 500)."""
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("text must not contain NUL characters")
    return value


class WireModel(BaseModel):
    """Base for wire schemas: built from ORM rows too, strict about unknown input."""

    model_config = ConfigDict(from_attributes=True, extra="forbid")

    _no_nul = field_validator("*", mode="before")(no_nul)


class ErrorResponse(BaseModel):
    """Every non-2xx answer from the server has this body."""

    reason: str
    suggested_remedy: str
    error: str = "LibrarianError"


class PermissionLevel(StrEnum):
    """Ordered from least to most privileged, except PEER which is a side branch."""

    READONLY = "read-only"
    READAPPEND = "read-append"
    ADMIN = "admin"
    PEER = "peer"


class TransferStatus(StrEnum):
    INITIATED = "INITIATED"
    STAGED = "STAGED"
    ONGOING = "ONGOING"
    STAGED_AT_DEST = "STAGED_AT_DEST"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
