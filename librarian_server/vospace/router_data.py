"""Bytes: the files endpoint (GET/PUT by path) and the one-job transfer endpoints.

Downloads stream with HTTP Range, ``Content-Disposition`` and an RFC 3230 ``Digest``;
uploads go through the upload pipeline and answer ``Digest: md5=<base64>``, which
the ``vos`` client checks. An upload must say its size (Content-Length).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from urllib.parse import quote

from anyio import to_thread
from fastapi import APIRouter, Request, Response
from sqlalchemy.orm import Session, sessionmaker

from librarian_server.api.deps import SessionDep, SessionFactoryDep
from librarian_server.api.streaming import digest_header, download_response, ranged
from librarian_server.errors import LibrarianError
from librarian_server.services.catalogue.files import Download
from librarian_server.services.vospace import data, nodes, transfers
from librarian_server.services.vospace.faults import (
    InvalidArgument,
    from_librarian_error,
)
from librarian_server.services.vospace.protocols import PUSH
from librarian_server.services.vospace.transfers import Context, check_reader
from librarian_server.services.vospace.uris import AUTO, NULL, auto_name, basename, join, parent_of
from librarian_server.vospace.deps import ContextDep
from librarian_server.vospace.router import _path

router = APIRouter(tags=["vospace"])
CHUNK = 1 << 20
TXN_OP = "x-put-txn-op"


def _download(
    session: Session,
    factory: sessionmaker[Session],
    path: str,
    request: Request,
    ctx: Context,
) -> Download:
    try:
        return ranged(data.download(session, factory, path, ctx), request.headers.get("range"))
    except LibrarianError as exc:
        raise from_librarian_error(exc) from None


def _send(
    download: Download, name: str, head: bool, done: Callable[[], None] | None = None
) -> Response:
    disposition = f"inline; filename*=UTF-8''{quote(basename(name))}"
    return download_response(
        download, headers={"Content-Disposition": disposition}, head=head, done=done
    )


def _md5(request: Request) -> str | None:
    """The client's ``digest: md5=<base64>`` as the catalogue's 'md5:<hex>'."""
    header = request.headers.get("digest")
    if not header:
        return None
    for part in header.split(","):
        algorithm, _, value = part.strip().partition("=")
        if algorithm.strip().lower() == "md5":
            try:
                raw = base64.b64decode(value.strip(), validate=True)
            except binascii.Error:
                raw = b""
            if len(raw) != 16:
                raise InvalidArgument(f"bad digest header {header!r}")
            return "md5:" + raw.hex()
    return None


def _size(request: Request) -> int:
    raw = request.headers.get("content-length")
    if raw is None or not raw.isdigit():
        fault = InvalidArgument("an upload must state its size (Content-Length)")
        fault.status_code = 411
        raise fault
    return int(raw)


def _written(result: data.Written) -> Response:
    headers = {"Digest": d} if (d := digest_header(result.checksum)) else {}
    return Response(status_code=201 if result.created else 200, headers=headers)


@router.get("/files/{path:path}")
@router.head("/files/{path:path}", include_in_schema=False)
def get_file(
    request: Request, session: SessionDep, factory: SessionFactoryDep, ctx: ContextDep, path: str
) -> Response:
    """The bytes of a DataNode by path (``files-proto``); links to nodes here are followed."""
    check_reader(ctx)
    path = _path(path, ctx)
    download = _download(session, factory, path, request, ctx)
    return _send(download, path, request.method == "HEAD")


@router.put("/files/{path:path}")
async def put_file(
    request: Request, factory: SessionFactoryDep, ctx: ContextDep, path: str
) -> Response:
    """Write a new DataNode by path, through the same pipeline as any upload."""
    user = nodes.writer(ctx.user)
    path = _path(path, ctx)
    if basename(path) == NULL:
        return _written(await data.discard(request.stream(), _size(request)))
    if basename(path) == AUTO:
        path = join(parent_of(path), auto_name())
    result = await data.write_file(
        factory,
        path,
        _size(request),
        request.stream(),
        md5=_md5(request),
        user=user,
        settings=ctx.settings,
        uris=ctx.uris,
    )
    return _written(result)


@router.get("/endpoints/{token}/{path:path}")
@router.head("/endpoints/{token}/{path:path}", include_in_schema=False)
def pull(
    request: Request,
    session: SessionDep,
    factory: SessionFactoryDep,
    ctx: ContextDep,
    token: str,
    path: str,
) -> Response:
    """A pull endpoint: readable (with Range) until it expires; a whole read completes the job."""
    path = _path(path, ctx)
    endpoint = transfers.open_for_reading(session, token, path, head=request.method == "HEAD")
    download = _download(session, factory, endpoint.path, request, ctx)
    if endpoint.direction == PUSH:  # HEAD on a push endpoint: what is there now
        return _send(download, path, head=True)
    return _send(
        download,
        path,
        request.method == "HEAD",
        lambda: transfers.finish(factory, token, endpoint.job_id),
    )


@router.put("/endpoints/{token}/{path:path}")
async def push(
    request: Request, factory: SessionFactoryDep, ctx: ContextDep, token: str, path: str
) -> Response:
    """A push endpoint: one successful upload, then it is spent and the job COMPLETED."""
    path = _path(path, ctx)
    endpoint = await to_thread.run_sync(transfers.endpoint, factory, token, path, PUSH)
    size = _size(request)
    operation = (request.headers.get(TXN_OP) or "").lower()
    if operation not in ("", "start") or request.headers.get("x-put-txn-id"):
        raise InvalidArgument("PUT transactions are not supported; send the whole file in one PUT")
    if operation == "start" and size == 0 and request.headers.get("x-total-length"):
        return Response(status_code=200)  # no transaction id: the client sends it in one go
    result = await data.push(
        factory, endpoint, token, size, request.stream(), md5=_md5(request), ctx=ctx
    )
    return _written(result)
