"""A file's bytes as an HTTP response: streamed, with Range, ETag and Digest.

Shared by the files API and the VOSpace data endpoints, so both answer ranges and
checksums the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from fastapi import Response
from fastapi.responses import StreamingResponse

from librarian_server.services.catalogue.files import Download
from librarian_server.services.ingest.receive import digest_header

CHUNK = 1 << 20


def _chunks(download: Download, done: Callable[[], None] | None) -> Iterator[bytes]:
    remaining = download.length
    with open(download.path, "rb") as handle:
        handle.seek(download.start)
        while remaining > 0 and (chunk := handle.read(min(CHUNK, remaining))):
            remaining -= len(chunk)
            yield chunk
    if done is not None and remaining == 0 and download.end == download.size - 1:
        done()


def download_response(
    download: Download,
    *,
    headers: dict[str, str] | None = None,
    head: bool = False,
    done: Callable[[], None] | None = None,
) -> Response:
    """200 with the whole file (and its ``Digest``) or 206 with the range asked for.

    ``done`` runs once the last byte of the file has been sent.
    """
    out = {
        "Accept-Ranges": "bytes",
        "Content-Length": str(download.length),
        "ETag": f'"{download.checksum}"',
        **(headers or {}),
    }
    status = 200
    if download.length != download.size:
        status = 206
        out["Content-Range"] = f"bytes {download.start}-{download.end}/{download.size}"
    elif (digest := digest_header(download.checksum)) is not None:
        out["Digest"] = digest
    media = "application/octet-stream"
    if head:
        return Response(status_code=status, headers=out, media_type=media)
    return StreamingResponse(
        _chunks(download, done), status_code=status, headers=out, media_type=media
    )
