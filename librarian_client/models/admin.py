"""Ping, tokens, stores (with their release policies) and users."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from librarian_client.models.common import MAX_SECONDS, PermissionLevel, WireModel


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


class ReleaseAction(StrEnum):
    DELETE = "delete"  # drop this store's copy once enough other sites prove theirs
    MOVE = "move"  # move the copy to another store of this site (tiering)


class ReleasePolicyInfo(WireModel):
    """What a store does with copies older than ``after_days``."""

    store: str
    after_days: int = Field(ge=0)
    action: ReleaseAction
    target_store: str | None = Field(default=None, description="For move: where copies go.")
    min_copies: int | None = Field(
        default=None, description="For delete: verified copies needed at distinct other sites."
    )
    proof_age_days: int | None = Field(
        default=None, description="For delete: each site's re-hash must be this recent."
    )
    allow_remote_only: bool = Field(
        default=False, description="For delete: may release this site's last copy."
    )

    def describe(self) -> str:
        """One line for a table: ``after 30 d: move to slow``."""
        head = f"after {self.after_days} d: "
        if self.action is ReleaseAction.MOVE:
            return head + f"move to {self.target_store}"
        last = ", even the last copy here" if self.allow_remote_only else ""
        return head + (
            f"delete at {self.min_copies} copies proven within {self.proof_age_days} d{last}"
        )


class StoreInfo(WireModel):
    name: str
    kind: str
    root: str
    capacity_bytes: int | None
    used_bytes: int
    free_bytes: int
    enabled: bool
    accepts_ingest: bool
    damaged: int = Field(default=0, description="Damaged copies awaiting repair.")
    lost: int = Field(default=0, description="Files whose every copy here is bad.")
    dark: int = Field(default=0, description="Stray files awaiting an operator.")
    retired: bool = Field(default=False, description="Emptied and disabled for good.")
    online_bytes: int | None = Field(
        default=None,
        description="A cold store's: bytes of its copies on the disk cache now (staged or "
        "not yet released); the rest are on tape only.",
    )
    policy: ReleasePolicyInfo | None = Field(
        default=None, description="What the store does with old copies (release, tiering)."
    )
