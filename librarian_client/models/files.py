"""Catalogue views: one file with its instances, and search."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_serializer, field_validator

from librarian_client.models.common import MAX_BYTES, WireModel, no_nul


class CopyState(StrEnum):
    """What the last check of a copy's bytes against the catalogue checksum found."""

    OK = "ok"
    BAD = "bad"


class InstanceInfo(WireModel):
    store: str
    path: str
    available: bool
    created_time: datetime
    verified_result: CopyState | None = Field(
        default=None,
        description="ok or bad after a check of the bytes; none if unchecked since written. "
        "A bad copy is never served or sent.",
    )
    verified_time: datetime | None = None
    verified_by: str | None = None
    verified_detail: str | None = None


class RemoteInstanceInfo(WireModel):
    """Another site holds a verified copy, since ``copy_time``."""

    site: str
    copy_time: datetime


class FileSummary(WireModel):
    name: str
    size: int
    checksum: str
    uploader: str
    source: str
    created_time: datetime


class FileInfo(FileSummary):
    instances: list[InstanceInfo] = Field(default_factory=list)
    remote_instances: list[RemoteInstanceInfo] = Field(default_factory=list)


MAX_SEARCH_PAGE = 10_000


class SearchQuery(BaseModel):
    """Search filters and paging: the client's request and the server's query parameters.

    Unknown parameters are ignored, as for any query string; a time without a zone is UTC.
    """

    model_config = ConfigDict(extra="ignore")

    _no_nul = field_validator("*", mode="before")(no_nul)

    name: str | None = Field(default=None, description="Glob: '*' any run (across '/'), '?' one")
    prefix: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    min_size: int | None = Field(default=None, ge=0, le=MAX_BYTES)
    max_size: int | None = Field(default=None, ge=0, le=MAX_BYTES)
    uploader: str | None = None
    limit: int = Field(default=1000, ge=1, le=MAX_SEARCH_PAGE)
    cursor: str | None = Field(default=None, description="next_cursor of the previous page")

    @field_validator("created_after", "created_before")
    @classmethod
    def _utc_unless_zoned(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value

    @field_serializer("created_after", "created_before")
    def _iso(self, value: datetime | None) -> str | None:
        return None if value is None else value.isoformat()


class SearchResponse(WireModel):
    files: list[FileSummary]
    next_cursor: str | None = Field(
        default=None, description="Pass as 'cursor' to get the next page; null on the last page."
    )


MAX_LIST_PAGE = 10_000


class ListQuery(BaseModel):
    """One level of the name tree under ``prefix``, as a directory listing shows it.

    Names are split at '/': a name with another '/' after the prefix is shown once as
    its directory (``prefix + segment + '/'``). Any string is a prefix: ``obs/ru``
    lists ``obs/run1/`` and ``obs/run1.dat`` alike; a directory is ``obs/run1/``.
    """

    model_config = ConfigDict(extra="ignore")

    prefix: str = ""
    limit: int = Field(default=1000, ge=1, le=MAX_LIST_PAGE, description="entries per page")
    cursor: str | None = Field(default=None, description="next_cursor of the previous page")


class ListResponse(WireModel):
    """Directories and files of one page, each in name order; together at most ``limit``."""

    prefix: str
    directories: list[str] = Field(description="each ends with '/'")
    files: list[FileSummary]
    next_cursor: str | None = Field(
        default=None, description="Pass as 'cursor' to get the next page; null on the last page."
    )
