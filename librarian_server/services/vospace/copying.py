"""copyNode: a new File for every File in the subtree, through the upload pipeline.

Each copy is staged under its new name, its bytes copied from an available instance
into the staging area, and committed with the source's checksum, so the commit's
verification hashes the copy once and a damaged copy is refused like any upload.
Containers, links and user properties are copied as rows. The copies belong to the
user who asked.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from librarian_client.models import CommitItem, StageItem, StageOutcome
from librarian_server.errors import FileAlreadyExists, LibrarianError
from librarian_server.orm import (
    File,
    IncomingTransfer,
    VOSpaceContainer,
    VOSpaceLink,
    VOSpaceProperty,
    utcnow,
)
from librarian_server.services.accounts.auth import AuthenticatedUser
from librarian_server.services.catalogue import files
from librarian_server.services.catalogue.subtrees import in_tree
from librarian_server.services.ingest import upload
from librarian_server.services.ingest.transfers import fail_many
from librarian_server.services.vospace.faults import DuplicateNode, from_librarian_error
from librarian_server.services.vospace.nodes import Node
from librarian_server.settings import ServerSettings

BATCH = 200
CHUNK = 1 << 20


def _renamed(path: str, old: str, new: str) -> str:
    return new if path == old else new + path[len(old) :]


def copy_rows(session: Session, source: Node, destination: str, user: AuthenticatedUser) -> None:
    """Explicit containers, links and user properties of the subtree (files come after)."""
    old = source.path
    now = utcnow()
    for row in session.scalars(select(VOSpaceContainer).where(in_tree(VOSpaceContainer.path, old))):
        session.add(
            VOSpaceContainer(
                path=_renamed(row.path, old, destination), owner=user.name, created_time=now
            )
        )
    for link in session.scalars(select(VOSpaceLink).where(in_tree(VOSpaceLink.path, old))):
        session.add(
            VOSpaceLink(
                path=_renamed(link.path, old, destination),
                target=link.target,
                owner=user.name,
                created_time=now,
            )
        )
    if source.type == "ContainerNode" and source.container is None:
        session.add(VOSpaceContainer(path=destination, owner=user.name, created_time=now))
    for prop in session.scalars(select(VOSpaceProperty).where(in_tree(VOSpaceProperty.path, old))):
        session.add(
            VOSpaceProperty(
                path=_renamed(prop.path, old, destination), uri=prop.uri, value=prop.value
            )
        )
    session.flush()


def copy_files(
    factory: sessionmaker[Session],
    source: Node,
    destination: str,
    *,
    user: AuthenticatedUser,
    settings: ServerSettings,
    keep_going: Callable[[], bool],
) -> int:
    """Copy every File of the subtree, a batch at a time; returns how many were copied."""
    old, position, copied = source.path, "", 0
    while keep_going():
        with factory() as session:
            query = select(File).where(in_tree(File.name, old))
            if position:
                query = query.where(File.name > position)
            batch = list(session.scalars(query.order_by(File.name).limit(BATCH)))
            session.expunge_all()
        if not batch:
            return copied
        _copy_batch(factory, batch, old, destination, user, settings)
        copied += len(batch)
        position = batch[-1].name
    return copied


def _copy_batch(
    factory: sessionmaker[Session],
    batch: list[File],
    old: str,
    new: str,
    user: AuthenticatedUser,
    settings: ServerSettings,
) -> None:
    items = [
        StageItem(name=_renamed(f.name, old, new), size=f.size, checksum=f.checksum) for f in batch
    ]
    try:
        with factory.begin() as session:
            staged = upload.stage(session, items, user=user, settings=settings)
    except FileAlreadyExists as exc:
        raise DuplicateNode(exc.reason) from None
    except LibrarianError as exc:
        raise from_librarian_error(exc) from None
    pending = {
        s.transfer_id: f
        for s, f in zip(staged, batch, strict=True)
        if s.outcome is StageOutcome.STAGED
    }
    ids = [i for i in pending if i is not None]
    if not ids:
        return
    try:
        with factory() as session:
            rows = session.scalars(
                select(IncomingTransfer).where(IncomingTransfer.id.in_(ids))
            ).all()
            for transfer in rows:
                source = files.prepare_download(session, pending[transfer.id].name)
                target = Path(transfer.staging_path)
                with source.open() as reader, open(target, "wb") as writer:
                    shutil.copyfileobj(reader, writer, CHUNK)
        upload.commit(
            factory,
            [CommitItem(transfer_id=i, checksum=pending[i].checksum) for i in ids],
            user=user,
            settings=settings,
        )
    except BaseException as exc:
        fail_many(factory, dict.fromkeys(ids, "copy failed"), caller="vospace.copy")
        if isinstance(exc, FileAlreadyExists):
            raise DuplicateNode(exc.reason) from None
        if isinstance(exc, LibrarianError):
            raise from_librarian_error(exc) from None
        raise
