"""Ping, tokens, stores and users."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from librarian_client.models.common import MAX_SECONDS, PermissionLevel, WireModel
from librarian_client.models.release import ReleasePolicyInfo


class PingResponse(WireModel):
    name: str
    version: str
    checksum_algorithm: str
    user: str | None = None
    permission: PermissionLevel | None = None


class TokenCreateRequest(WireModel):
    expires_in_seconds: int | None = Field(default=None, gt=0, le=MAX_SECONDS)
    description: str = Field(default="", max_length=200)


class TokenCreateResponse(WireModel):
    token: str
    user: str
    expires_at: datetime | None
    id: int | None = None


class TokenInfo(WireModel):
    """A token as listed: never the token itself (only its digest is stored)."""

    id: int
    user: str
    description: str
    created_time: datetime
    expires_at: datetime | None
    parent_id: int | None = Field(default=None, description="The token that minted this one.")


class TokenRevokeResponse(WireModel):
    revoked: list[int] = Field(description="The token's id, then those of its descendants.")


class StoreInfo(WireModel):
    name: str
    kind: str
    root: str
    capacity_bytes: int | None
    used_bytes: int
    free_bytes: int
    enabled: bool
    accepts_ingest: bool
    retired: bool = Field(default=False, description="Emptied and disabled for good.")
    policy: ReleasePolicyInfo | None = Field(
        default=None, description="What the store does with old copies (release, tiering)."
    )
