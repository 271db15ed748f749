"""Deleting and moving nodes: the checks, then the catalogue's subtree operations.

The Files of a subtree are renamed (``subtrees``) or deleted (``deletion``) by the
catalogue, which also keeps the stores' used bytes; the
VOSpace-only rows (explicit containers, links, user properties) follow them here in
the same transaction. Both refuse while an upload into the subtree, or a copy of it
to a peer, is under way, and only the owner of everything in it (or an admin) may.
"""

from __future__ import annotations

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from librarian_client.models import PermissionLevel
from librarian_server.orm import (
    ACTIVE_STATUSES,
    OUTGOING_LIVE,
    File,
    IncomingTransfer,
    OutgoingTransfer,
    VOSpaceContainer,
    VOSpaceLink,
)
from librarian_server.services.accounts.auth import AuthenticatedUser
from librarian_server.services.catalogue import deletion, subtrees
from librarian_server.services.catalogue.deletion import DeletionRefused
from librarian_server.services.catalogue.subtrees import in_tree, prefix_range
from librarian_server.services.vospace import properties
from librarian_server.services.vospace.faults import NodeBusy, PermissionDenied
from librarian_server.services.vospace.nodes import Node
from librarian_server.settings import ServerSettings

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


def delete_tree(
    session: Session,
    node: Node,
    verdicts: list[deletion.Verdict],
    actor: str,
    *,
    via: str,
    flags: dict[str, bool],
) -> None:
    """Delete a node and everything below it: its Files as the files API deletes them."""
    deletion.remove(session, verdicts, actor, via=via, flags=flags)
    for model in (VOSpaceContainer, VOSpaceLink):
        session.execute(
            delete(model).where(in_tree(model.path, node.path)), execution_options=_NO_SYNC
        )
    properties.delete_tree(session, node.path)
    session.flush()


def move_tree(session: Session, node: Node, new: str) -> None:
    """Rename a node and its subtree; the destination must be free (checked by the caller)."""
    old = node.path
    if node.file is not None:
        subtrees.rename_file(session, old, new)
    else:
        subtrees.rename_below(session, old, new)
    low, high = prefix_range(old + "/")
    for model in (VOSpaceContainer, VOSpaceLink):
        session.execute(
            update(model).where(model.path == old).values(path=new), execution_options=_NO_SYNC
        )
        session.execute(
            update(model)
            .where(model.path >= low, model.path < high)
            .values(path=subtrees.renamed(model.path, old, new)),
            execution_options=_NO_SYNC,
        )
    properties.move_tree(session, old, new)
    session.flush()
    session.expire_all()
