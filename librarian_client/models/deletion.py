"""Deleting files: ``POST /api/v2/delete`` (``librarian rm``)."""

from __future__ import annotations

from pydantic import Field, model_validator

from librarian_client.models.common import WireModel


class DeleteRequest(WireModel):
    """Exactly one of ``names`` or ``prefix``; the flags say what the caller means to allow."""

    names: list[str] = Field(default_factory=list, max_length=10_000)
    prefix: str | None = Field(
        default=None, description="Every file whose name starts with this (as search's prefix)."
    )
    force: bool = Field(
        default=False,
        description="Admins: delete files that were replicated or are past the grace period.",
    )
    last_copy: bool = Field(
        default=False,
        description="Also delete files that no other site has confirmed holding.",
    )
    dry_run: bool = Field(default=False, description="Check and list, delete nothing.")

    @model_validator(mode="after")
    def _one_selection(self) -> DeleteRequest:
        if bool(self.names) == (self.prefix is not None):
            raise ValueError("give either 'names' or 'prefix', not both or neither")
        if self.prefix == "":
            raise ValueError("an empty prefix would select every file")
        return self


class DeletedFile(WireModel):
    name: str
    size: int
    checksum: str
    last_copy: bool = Field(description="No other site had confirmed holding it.")


class DeleteResponse(WireModel):
    deleted: list[DeletedFile]
    bytes_freed: int
    dry_run: bool = False
