"""Catalogue views: one file with its instances, and search."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from .common import WireModel


class InstanceInfo(WireModel):
    store: str
    path: str
    available: bool
    created_time: datetime


class FileSummary(WireModel):
    name: str
    size: int
    checksum: str
    uploader: str
    source: str
    created_time: datetime


class FileInfo(FileSummary):
    instances: list[InstanceInfo] = Field(default_factory=list)


class SearchResponse(WireModel):
    files: list[FileSummary]
    next_cursor: str | None = Field(
        default=None, description="Pass as 'cursor' to get the next page; null on the last page."
    )
