"""Bytes into and out of DataNodes, through the one upload pipeline.

Every write (a push endpoint, the files endpoint, an empty DataNode from createNode)
is stage -> streamed receive (counted and hashed once, ``Digest`` answered) -> commit:
a wrong checksum or size leaves no File and no bytes. DataNodes are Files, and Files
are immutable, so a write onto an existing DataNode succeeds only when the bytes are
the same, or when the node is empty (a node made by createNode or an empty ``vcp``,
waiting for its data). Anything else is ``DuplicateNode``: remove the node first.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from anyio import to_thread
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from librarian_client.models import CommitItem, StageItem, StageOutcome
from librarian_server.errors import FileAlreadyExists, LibrarianError
from librarian_server.orm import User
from librarian_server.services.accounts.auth import AuthenticatedUser
from librarian_server.services.ingest import receive, upload
from librarian_server.settings import ServerSettings
from librarian_server.vospace import moves, nodes
from librarian_server.vospace.faults import (
    DuplicateNode,
    InvalidArgument,
    LinkFound,
    PermissionDenied,
    from_librarian_error,
)
from librarian_server.vospace.uris import NodeURIs


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
            moves.delete_file(session, file)
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


async def empty_stream() -> AsyncIterator[bytes]:
    """The body of an empty DataNode."""
    return
    yield b""  # pragma: no cover - makes this an async generator
