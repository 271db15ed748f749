"""Release and tiering: what a release pass found and did (the policy is in ``admin``)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from librarian_client.models.admin import ReleaseAction, ReleasePolicyInfo
from librarian_client.models.common import WireModel

__all__ = [
    "MAX_RELEASE_PAGE",
    "ReleaseAction",
    "ReleaseCandidate",
    "ReleasePolicyInfo",
    "ReleaseRequest",
    "ReleaseResponse",
]

MAX_RELEASE_PAGE = 1000


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
