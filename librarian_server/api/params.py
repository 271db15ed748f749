"""Bounded path and query parameters shared by the routers.

Every id and count a URL carries is bounded here, so an out-of-range value is a 400
with the usual error body before any query runs (an id past PostgreSQL's 32-bit
integer would otherwise fail inside the database as a 500).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query, Request

from librarian_client.models import MAX_ID
from librarian_server.errors import InvalidRequest

TransferIdPath = Annotated[int, Path(ge=1, le=MAX_ID, description=f"A transfer id, 1 to {MAX_ID}.")]
ProofIdPath = Annotated[int, Path(ge=1, le=MAX_ID, description=f"A proof job id, 1 to {MAX_ID}.")]
TokenIdPath = Annotated[int, Path(ge=1, le=MAX_ID, description=f"A token id, 1 to {MAX_ID}.")]
PageLimit = Annotated[int, Query(ge=1, le=10_000, description="Rows per page, 1 to 10000.")]
JobCount = Annotated[
    int | None,
    Query(alias="LAST", ge=1, le=MAX_ID, description="The newest N jobs (UWS LAST)."),
]


def no_nul_in_url(request: Request) -> None:
    """Refuse NUL in the path or query: PostgreSQL cannot compare text holding one (a 500)."""
    values = [*request.query_params.values(), *map(str, request.path_params.values())]
    if any("\x00" in value for value in values):
        raise InvalidRequest(
            "The URL holds a NUL character (%00).", "Remove it; no name or value contains one."
        )
