"""Deleting and moving nodes: catalogue operations on whole subtrees.

A move renames catalogue rows and never touches bytes: a File keeps its instances and
their store paths (uploads of the old name later get a path of their own). Peers hold
copies under the old name, so the renamed File's remote instances go (with the old
row): replication sends it to them under its new name. Deleting a DataNode deletes the
File, its instances and, once the transaction has committed, its bytes. Both refuse
while an upload into the subtree, or a copy of it to a peer, is under way.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    CursorResult,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.orm import InstrumentedAttribute, Session

from librarian_client.models import PermissionLevel
from librarian_server.orm import (
    ACTIVE_STATUSES,
    OUTGOING_LIVE,
    File,
    IncomingTransfer,
    Instance,
    OutgoingTransfer,
    Store,
    VOSpaceContainer,
    VOSpaceLink,
)
from librarian_server.services.accounts.auth import AuthenticatedUser
from librarian_server.services.catalogue import deletion
from librarian_server.services.catalogue.deletion import DeletionRefused
from librarian_server.services.catalogue.stores import delete_after_commit
from librarian_server.settings import ServerSettings
from librarian_server.vospace import properties
from librarian_server.vospace.faults import NodeBusy, PermissionDenied
from librarian_server.vospace.nodes import Node, in_tree, prefix_range

_NO_SYNC = {"synchronize_session": False}


def check_not_busy(session: Session, node: Node) -> None:
    """No upload may be landing in the subtree, nor a copy leaving for a peer (``NodeBusy``)."""
    escaped = node.path.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    busy = session.scalar(
        select(IncomingTransfer.name)
        .where(
            IncomingTransfer.status.in_(ACTIVE_STATUSES),
            or_(
                IncomingTransfer.name == node.path,
                IncomingTransfer.name.like(escaped + "/%", escape="\\"),
            ),
        )
        .limit(1)
    )
    if busy is not None:
        raise NodeBusy(f"an upload to {busy!r} is in progress")
    sending = session.scalar(
        select(OutgoingTransfer.file_name)
        .where(
            OutgoingTransfer.status.in_(OUTGOING_LIVE),
            in_tree(OutgoingTransfer.file_name, node.path),
        )
        .limit(1)
    )
    if sending is not None:
        raise NodeBusy(f"{sending!r} is being sent to a peer")


def check_owner_of_tree(session: Session, node: Node, user: AuthenticatedUser) -> None:
    """Everything in the subtree must be the user's own, unless they are an admin."""
    if user.permission is PermissionLevel.ADMIN:
        return
    others = [
        select(File.name).where(in_tree(File.name, node.path), File.uploader != user.name),
        select(VOSpaceContainer.path).where(
            in_tree(VOSpaceContainer.path, node.path),
            VOSpaceContainer.owner != user.name,
        ),
        select(VOSpaceLink.path).where(
            in_tree(VOSpaceLink.path, node.path),
            VOSpaceLink.owner != user.name,
        ),
    ]
    for query in others:
        if (name := session.scalar(query.limit(1))) is not None:
            raise PermissionDenied(
                f"{name!r} belongs to another user; only they or an admin may remove or move it"
            )


def check_delete_rule(
    session: Session,
    node: Node,
    user: AuthenticatedUser,
    settings: ServerSettings,
    *,
    force: bool = False,
    last_copy: bool = False,
) -> list[deletion.Verdict]:
    """The files API's rule for every File in the subtree (``PermissionDenied`` if not)."""
    files = list(session.scalars(select(File).where(in_tree(File.name, node.path))))
    verdicts = deletion.judge(session, files, user, settings)
    try:
        deletion.check(
            verdicts,
            user,
            force=force,
            last_copy=last_copy,
            grace_seconds=settings.delete_grace_seconds,
            flags=("?force=true", "?last_copy=true"),
        )
    except DeletionRefused as exc:
        raise PermissionDenied(f"{exc.reason} {exc.suggested_remedy}") from None
    return verdicts


def delete_tree(session: Session, node: Node) -> int:
    """Delete a node and everything below it; returns the number of Files deleted."""
    path = node.path
    instances = session.execute(
        select(Instance.store_id, Instance.path, File.size)
        .join(File, Instance.file_name == File.name)
        .where(in_tree(File.name, path))
    ).all()
    freed: dict[int, int] = {}
    for store_id, _, size in instances:
        freed[store_id] = freed.get(store_id, 0) + size
    for store_id, size in freed.items():
        session.execute(
            update(Store).where(Store.id == store_id).values(used_bytes=Store.used_bytes - size)
        )
    removed = cast(
        "CursorResult[Any]",
        session.execute(delete(File).where(in_tree(File.name, path)), execution_options=_NO_SYNC),
    ).rowcount
    for model in (VOSpaceContainer, VOSpaceLink):
        session.execute(delete(model).where(in_tree(model.path, path)), execution_options=_NO_SYNC)
    properties.delete_tree(session, path)
    session.flush()
    if instances:
        stores = {s.id: s for s in session.scalars(select(Store))}
        doomed = [(stores[store_id], store_path) for store_id, store_path, _ in instances]
        delete_after_commit(session, doomed)
    return int(removed or 0)


def _renamed(column: InstrumentedAttribute[str], old: str, new: str) -> ColumnElement[str]:
    renamed: ColumnElement[str] = literal(new + "/") + func.substr(column, len(old) + 2)
    return renamed


def move_tree(session: Session, node: Node, new: str) -> None:
    """Rename a node and its subtree; the destination must be free (checked by the caller)."""
    old = node.path
    if node.file is not None:
        _rename_files(
            session, File.name == old, Instance.file_name == old, literal(new), literal(new)
        )
    else:
        low, high = prefix_range(old + "/")
        _rename_files(
            session,
            (File.name >= low) & (File.name < high),
            (Instance.file_name >= low) & (Instance.file_name < high),
            _renamed(File.name, old, new),
            _renamed(Instance.file_name, old, new),
        )
    for model in (VOSpaceContainer, VOSpaceLink):
        session.execute(
            update(model).where(model.path == old).values(path=new), execution_options=_NO_SYNC
        )
        low, high = prefix_range(old + "/")
        session.execute(
            update(model)
            .where(model.path >= low, model.path < high)
            .values(path=_renamed(model.path, old, new)),
            execution_options=_NO_SYNC,
        )
    properties.move_tree(session, old, new)
    session.flush()
    session.expire_all()


def _rename_files(
    session: Session,
    files: ColumnElement[bool],
    instances: ColumnElement[bool],
    file_name: ColumnElement[str],
    instance_name: ColumnElement[str],
) -> None:
    """Insert the renamed rows, repoint the instances, delete the old rows (FK order)."""
    columns = ["name", "size", "checksum", "uploader", "source", "created_time"]
    session.execute(
        insert(File).from_select(
            columns,
            select(
                file_name, File.size, File.checksum, File.uploader, File.source, File.created_time
            ).where(files),
        )
    )
    session.execute(
        update(Instance).where(instances).values(file_name=instance_name),
        execution_options=_NO_SYNC,
    )
    session.execute(delete(File).where(files), execution_options=_NO_SYNC)


def delete_file(session: Session, file: File) -> None:
    """One File (an empty DataNode being filled by a push); its properties stay."""
    doomed = [(i.store, i.path) for i in file.instances]
    for instance in file.instances:
        session.execute(
            update(Store)
            .where(Store.id == instance.store_id)
            .values(used_bytes=Store.used_bytes - file.size)
        )
    session.delete(file)
    session.flush()
    if doomed:
        delete_after_commit(session, doomed)
