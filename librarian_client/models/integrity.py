"""Proving copies on demand: which files to re-hash, and what each copy was found to be."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, model_validator

from librarian_client.models.common import WireModel

MAX_VERIFY_FILES = 1000
"""Files re-hashed by one request; the CLI pages through larger sets."""

Finding = Literal["ok", "missing", "wrong_size", "corrupt", "unreadable"]


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
