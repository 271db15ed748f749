"""Shapes shared by every endpoint."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class WireModel(BaseModel):
    """Base for wire schemas: built from ORM rows too, strict about unknown input."""

    model_config = ConfigDict(from_attributes=True, extra="forbid")


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
