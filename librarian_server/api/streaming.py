"""A file's bytes as an HTTP response: streamed, with Range, ETag and Digest.

Shared by the files API and the VOSpace data endpoints, so both answer ranges and
checksums the same way.
"""

from __future__ import annotations

import base64
import dataclasses
import re
from collections.abc import Callable, Iterator
from typing import BinaryIO

from fastapi import Response
from fastapi.responses import StreamingResponse

from librarian_server.errors import RangeNotSatisfiable
from librarian_server.services.catalogue.files import Download

CHUNK = 1 << 20
_BYTE_RANGE = re.compile(r"\d+-\d*|-\d+", re.ASCII)


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """One ``bytes=`` range (the only kind clients use for resumption); None means whole.

    A unit other than ``bytes`` is ignored (RFC 9110 14.2: the whole file, 200); a
    ``bytes`` range that cannot be served is a 416 that states the size.
    """
    if not header:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes":
        return None
    if "," in spec:
        raise RangeNotSatisfiable(
            f"Unsupported Range {header!r}.", "Send one 'bytes=a-b' range.", size=size
        )
    if not _BYTE_RANGE.fullmatch(spec.strip()):
        raise RangeNotSatisfiable(f"Malformed Range {header!r}.", size=size)
    first, _, last = spec.strip().partition("-")
    try:
        if first == "":
            length = int(last)
            if length <= 0:
                raise RangeNotSatisfiable(size=size)
            start, end = max(size - length, 0), size - 1
        else:
            start = int(first)
            end = int(last) if last else size - 1
    except ValueError:
        raise RangeNotSatisfiable(f"Malformed Range {header!r}.", size=size) from None
    end = min(end, size - 1)
    if start >= size or start > end or start < 0:
        raise RangeNotSatisfiable(
            f"Range {header!r} is outside the file's {size} bytes.", size=size
        )
    return start, end


def ranged(download: Download, header: str | None) -> Download:
    """The part of ``download`` a ``Range`` header asks for (all of it without one)."""
    if (span := parse_range(header, download.size)) is None:
        return download
    return dataclasses.replace(download, start=span[0], end=span[1])


def digest_header(checksum: str) -> str | None:
    """RFC 3230 ``Digest`` value for an MD5 checksum (VOSpace clients check it)."""
    algorithm, _, hexdigest = checksum.partition(":")
    if algorithm != "md5":
        return None
    return "md5=" + base64.b64encode(bytes.fromhex(hexdigest)).decode()


def _chunks(
    handle: BinaryIO, download: Download, done: Callable[[], None] | None
) -> Iterator[bytes]:
    remaining = download.length
    with handle:
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
    # Opened now, not when the body starts: once answered, the bytes are ours to the end
    # even if a move or a release unlinks them meanwhile (POSIX keeps an open file).
    handle = download.open()
    return StreamingResponse(
        _chunks(handle, download, done), status_code=status, headers=out, media_type=media
    )
