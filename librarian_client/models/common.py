"""Shapes shared by every endpoint."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from librarian_client.limits import API_PREFIX as API_PREFIX
from librarian_client.limits import MAX_BYTES as MAX_BYTES
from librarian_client.limits import MAX_ID as MAX_ID
from librarian_client.limits import MAX_SECONDS as MAX_SECONDS
from librarian_client.limits import PermissionLevel as PermissionLevel
from librarian_client.limits import TransferStatus as TransferStatus
from librarian_client.models.errors import ErrorCode

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
    code: ErrorCode = Field(
        default=ErrorCode.INTERNAL_ERROR,
        description="What went wrong, as a stable word to act on (the status says how "
        "bad). Always sent; a body without it comes from a server older than the codes.",
    )
