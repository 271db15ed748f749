"""Bytes into and out of DataNodes, through the one upload pipeline.

Every write (a push endpoint, the files endpoint, an empty DataNode from createNode)
is stage -> streamed receive (counted and hashed once, the digest answered) -> commit:
a wrong checksum or size leaves no File and no bytes. DataNodes are Files, and Files
are immutable, so a write onto an existing DataNode succeeds only when the bytes are
the same, or when the node is empty (a node made by createNode or an empty ``vcp``,
waiting for its data). Anything else is ``DuplicateNode``: remove the node first.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from anyio import to_thread
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from librarian_client.models import CommitItem, StageItem, StageOutcome
from librarian_server.errors import FileAlreadyExists, LibrarianError
from librarian_server.orm import User
from librarian_server.services.accounts.auth import AuthenticatedUser
from librarian_server.services.catalogue import subtrees
from librarian_server.services.catalogue.files import Download
from librarian_server.services.cold import operations
from librarian_server.services.ingest import receive, upload
from librarian_server.services.vospace import moves, nodes, transfers
from librarian_server.services.vospace.faults import (
    DuplicateNode,
    InvalidArgument,
    LinkFound,
    PermissionDenied,
    from_librarian_error,
)
from librarian_server.services.vospace.transfers import Context
from librarian_server.services.vospace.uris import NULL, NodeURIs, basename
from librarian_server.settings import ServerSettings


@dataclass
class Written:
    name: str
    size: int
    checksum: str
    created: bool  # False: the same bytes were already there


def account(session: Session, name: str) -> AuthenticatedUser:
    """The user a job or endpoint acts for, as the pipeline's ownership checks want it."""
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        raise InvalidArgument(f"the account {name!r} no longer exists")
    if user.disabled:  # a job or endpoint made before the account was disabled
        raise PermissionDenied(f"the account {name!r} is disabled")
    return AuthenticatedUser(user.id, user.name, user.permission)


def _prepare(
    factory: sessionmaker[Session],
    path: str,
    size: int,
    md5: str | None,
    user: AuthenticatedUser,
    settings: ServerSettings,
    uris: NodeURIs,
) -> Written | int:
    """Check the target and stage; a Written when nothing needs to move, else a transfer id."""
    with factory.begin() as session:
        nodes.check_ancestors(session, path, uris)
        node = nodes.find(session, path)
        if node is not None and node.file is None:
            if node.link is not None:
                raise LinkFound(uris.uri(path))
            raise DuplicateNode(f"{uris.uri(path)} is a ContainerNode")
        if node is not None and node.file is not None:
            file = node.file
            if md5 is not None and file.checksum == md5 and file.size == size:
                return Written(file.name, file.size, file.checksum, created=False)
            if file.size != 0:
                raise DuplicateNode(
                    f"{uris.uri(path)} already holds other bytes; files are immutable here, "
                    "so delete the node first to replace it"
                )
            nodes.check_owner(user, file.uploader, uris.uri(path))
            moves.check_not_busy(session, node)
            subtrees.delete_file(session, file)
        item = StageItem(name=path, size=size, checksum=md5)
        (staged,) = upload.stage(session, [item], user=user, settings=settings, algorithm="md5")
        if staged.outcome is StageOutcome.ALREADY_PRESENT:
            return Written(path, size, staged.existing_checksum or "", created=False)
        if staged.outcome is not StageOutcome.STAGED or staged.transfer_id is None:
            raise DuplicateNode(f"{uris.uri(path)} was written meanwhile")
        return staged.transfer_id


async def write_file(
    factory: sessionmaker[Session],
    path: str,
    size: int,
    chunks: AsyncIterator[bytes],
    *,
    md5: str | None,
    user: AuthenticatedUser,
    settings: ServerSettings,
    uris: NodeURIs,
) -> Written:
    """Store ``size`` bytes as the File ``path``; ``md5`` ('md5:<hex>') is checked if given."""
    try:
        prepared = await to_thread.run_sync(
            _prepare, factory, path, size, md5, user, settings, uris
        )
        if isinstance(prepared, Written):
            return prepared
        received = await receive.receive(factory, prepared, chunks, user=user)
        (done,) = await to_thread.run_sync(
            lambda: upload.commit(
                factory,
                [CommitItem(transfer_id=prepared, checksum=received.checksum)],
                user=user,
                settings=settings,
            )
        )
    except FileAlreadyExists as exc:
        raise DuplicateNode(f"{uris.uri(path)}: {exc.reason}") from None
    except LibrarianError as exc:
        raise from_librarian_error(exc) from None
    return Written(done.name, done.size, done.checksum, created=True)


def download(session: Session, factory: sessionmaker[Session], path: str, ctx: Context) -> Download:
    """The bytes of the DataNode at ``path`` (links to nodes here followed), or a fault;
    a file only on tape starts staging and answers 503 with Retry-After, which VO
    clients wait out."""
    node = nodes.resolve_internal_link(session, nodes.get(session, path, ctx.uris), ctx.uris)
    if node.file is None:
        raise InvalidArgument(f"{ctx.uris.uri(node.path)} is a ContainerNode; it has no bytes")
    reader = ctx.user.name if ctx.user is not None else None
    try:
        return operations.download_or_stage(factory, node.file.name, reader, ctx.settings)
    except LibrarianError as exc:
        raise from_librarian_error(exc) from None


async def discard(chunks: AsyncIterator[bytes], size: int) -> Written:
    """``.null``: the bytes are read, hashed (for the digest the answer carries) and dropped."""
    digest = hashlib.md5()  # noqa: S324 - a checksum, not security
    received = 0
    async for chunk in chunks:
        digest.update(chunk)
        received += len(chunk)
    if received != size:
        raise InvalidArgument(f"received {received} bytes, {size} were announced")
    return Written(NULL, size, "md5:" + digest.hexdigest(), created=False)


def _account(factory: sessionmaker[Session], name: str) -> AuthenticatedUser:
    with factory() as session:
        return account(session, name)


async def push(
    factory: sessionmaker[Session],
    endpoint: transfers.Endpoint,
    token: str,
    size: int,
    chunks: AsyncIterator[bytes],
    *,
    md5: str | None,
    ctx: Context,
) -> Written:
    """A push endpoint's one upload, for the endpoint's owner; then the job is COMPLETED."""
    if basename(endpoint.path) == NULL:
        result = await discard(chunks, size)
    else:
        user = await to_thread.run_sync(_account, factory, endpoint.owner or "")
        result = await write_file(
            factory,
            endpoint.path,
            size,
            chunks,
            md5=md5,
            user=user,
            settings=ctx.settings,
            uris=ctx.uris,
        )
    await to_thread.run_sync(transfers.finish, factory, token, endpoint.job_id)
    return result


async def empty_stream() -> AsyncIterator[bytes]:
    """The body of an empty DataNode."""
    return
    yield b""  # pragma: no cover - makes this an async generator
