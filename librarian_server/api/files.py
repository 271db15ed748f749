"""Catalogue reads: file metadata, streamed download with Range, search, listing."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Response
from fastapi.responses import StreamingResponse

from librarian_client.models import FileInfo, ListQuery, ListResponse, SearchQuery, SearchResponse
from librarian_server.api.deps import Reader, SessionDep, SessionFactoryDep, SettingsDep
from librarian_server.api.streaming import download_response, ranged
from librarian_server.services.catalogue import files, listing
from librarian_server.services.cold import operations

router = APIRouter(tags=["files"])


@router.get("/files/{name:path}", response_model=FileInfo)
def info(name: str, session: SessionDep, _: Reader) -> FileInfo:
    return files.file_info(session, name)


@router.get("/download/{name:path}", response_class=StreamingResponse)
def download(
    name: str,
    factory: SessionFactoryDep,
    settings: SettingsDep,
    user: Reader,
    range_: Annotated[str | None, Header(alias="range")] = None,
) -> Response:
    """The bytes (Range honoured); a file only on tape answers 409 ``file_offline`` naming
    the staging job it started (Retry-After)."""
    reader = user.name if user is not None else None
    try:
        d = ranged(operations.download_or_stage(factory, name, reader, settings), range_)
        return download_response(d, headers={"X-Librarian-Checksum": d.checksum})
    except FileNotFoundError:  # the copy moved to another store meanwhile: look again
        d = ranged(operations.download_or_stage(factory, name, reader, settings), range_)
        return download_response(d, headers={"X-Librarian-Checksum": d.checksum})


@router.get("/search", response_model=SearchResponse)
def search(
    filters: Annotated[SearchQuery, Query()], session: SessionDep, _: Reader
) -> SearchResponse:
    return files.search(session, filters)


@router.get("/list", response_model=ListResponse)
def list_level(
    query: Annotated[ListQuery, Query()], session: SessionDep, _: Reader
) -> ListResponse:
    """One level under a prefix, like a directory: names with a further '/' are folded
    into their directory (``prefix/segment/``)."""
    return listing.list_level(session, query)
