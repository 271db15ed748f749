"""Catalogue reads: file metadata, streamed download with Range, search."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Header, Query
from fastapi.responses import StreamingResponse

from librarian_client.models import FileInfo, SearchQuery, SearchResponse

from ..services import files
from ..services.files import Download
from ..services.receive import digest_header
from .deps import Reader, SessionDep

router = APIRouter(tags=["files"])
CHUNK = 1 << 20


@router.get("/files/{name:path}", response_model=FileInfo)
def info(name: str, session: SessionDep, _: Reader) -> FileInfo:
    return files.file_info(session, name)


def _stream(download: Download) -> Iterator[bytes]:
    remaining = download.length
    with open(download.path, "rb") as handle:
        handle.seek(download.start)
        while remaining > 0 and (chunk := handle.read(min(CHUNK, remaining))):
            remaining -= len(chunk)
            yield chunk


@router.get("/download/{name:path}", response_class=StreamingResponse)
def download(
    name: str,
    session: SessionDep,
    _: Reader,
    range_: Annotated[str | None, Header(alias="range")] = None,
) -> StreamingResponse:
    d = files.prepare_download(session, name, range_)
    headers = {
        "Accept-Ranges": "bytes",
        "Content-Length": str(d.length),
        "X-Librarian-Checksum": d.checksum,
        "ETag": f'"{d.checksum}"',
    }
    status = 200
    if d.length != d.size:
        status = 206
        headers["Content-Range"] = f"bytes {d.start}-{d.end}/{d.size}"
    elif (digest := digest_header(d.checksum)) is not None:
        headers["Digest"] = digest
    return StreamingResponse(
        _stream(d), status_code=status, headers=headers, media_type="application/octet-stream"
    )


@router.get("/search", response_model=SearchResponse)
def search(
    filters: Annotated[SearchQuery, Query()], session: SessionDep, _: Reader
) -> SearchResponse:
    return files.search(session, filters)
