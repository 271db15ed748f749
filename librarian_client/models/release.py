"""Release and tiering: a store's policy, and what a release pass found and did."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from librarian_client.models.common import WireModel

MAX_RELEASE_PAGE = 1000


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


class ReleaseRequest(WireModel):
    store: str = Field(min_length=1, max_length=128)
    dry_run: bool = True
    limit: int = Field(default=100, ge=1, le=MAX_RELEASE_PAGE)
    after: str | None = Field(
        default=None, max_length=100, description="The previous page's ``next``: resume there."
    )


class ReleaseCandidate(WireModel):
    """One copy on the store that the policy's age selects, and its verdict."""

    name: str
    instance_id: int
    size: int
    created_time: datetime
    releasable: bool = Field(description="Whether the policy allows releasing it now.")
    released: bool = Field(description="Whether this pass released (or moved) it.")
    reason: str
    sites: list[str] = Field(default_factory=list, description="Sites whose copies counted.")


class ReleaseResponse(WireModel):
    store: str
    action: ReleaseAction
    dry_run: bool
    candidates: list[ReleaseCandidate]
    released: int = 0
    released_bytes: int = 0
    next: str | None = Field(default=None, description="Pass as ``after`` for the next page.")
