"""Bounded path and query parameters shared by the routers.

Every id and count a URL carries is bounded here, so an out-of-range value is a 400
with the usual error body before any query runs (an id past PostgreSQL's 32-bit
integer would otherwise fail inside the database as a 500).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from librarian_client.models import MAX_ID

TransferIdPath = Annotated[int, Path(ge=1, le=MAX_ID, description=f"A transfer id, 1 to {MAX_ID}.")]
PageLimit = Annotated[int, Query(ge=1, le=10_000, description="Rows per page, 1 to 10000.")]
JobCount = Annotated[
    int | None,
    Query(alias="LAST", ge=1, le=MAX_ID, description="The newest N jobs (UWS LAST)."),
]
