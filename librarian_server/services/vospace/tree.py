"""What the node endpoints do: read, create, change and delete nodes.

Each write is one transaction; an empty DataNode goes through the upload pipeline
first, so it is a File like any other. The HTTP layer renders the ``NodeView``s
returned here.
"""

from __future__ import annotations

from collections.abc import Iterator

from anyio import to_thread
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from librarian_server.services.accounts.auth import AuthenticatedUser
from librarian_server.services.vospace import data, listing, moves, nodes, properties
from librarian_server.services.vospace.faults import InvalidArgument, InvalidURI, PermissionDenied
from librarian_server.services.vospace.model import NodeDoc, NodeView
from librarian_server.services.vospace.transfers import Context
from librarian_server.services.vospace.uris import AUTO, NULL, auto_name, basename, join, parent_of


def _limit(raw: str | None) -> int | None:
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise InvalidArgument(f"limit={raw!r} is not a number") from None
    if value < 0:
        raise InvalidArgument("limit must not be negative")
    return value


def read(
    session: Session,
    factory: sessionmaker[Session],
    path: str,
    ctx: Context,
    *,
    start_uri: str | None,
    limit: str | None,
    with_children: bool,
) -> tuple[NodeView, Iterator[NodeView]]:
    """A node and, for a container, its children from ``start_uri`` on (streamed later)."""
    node = nodes.get(session, path, ctx.uris)
    node_view = nodes.view(session, node)
    count = _limit(limit)
    start = None
    if start_uri is not None and node.type == "ContainerNode":
        child = ctx.uris.path_of(start_uri)
        if parent_of(child) != path or child == path:
            raise InvalidURI(f"{start_uri} is not a child of {ctx.uris.uri(path)}")
        start = listing.start_key(session, child)
    children = (
        listing.children(lambda: factory(), path, start=start, limit=count)
        if node.type == "ContainerNode" and with_children
        else iter(())
    )
    return node_view, children


def _check_uri(doc: NodeDoc, path: str, ctx: Context) -> None:
    if ctx.uris.path_of(doc.uri) != path:
        raise InvalidURI(f"the node's uri {doc.uri} does not match the URL's path")


def _document(session: Session, path: str, ctx: Context) -> NodeView:
    return nodes.view(session, nodes.get(session, path, ctx.uris))


async def create(
    factory: sessionmaker[Session],
    path: str,
    doc: NodeDoc,
    user: AuthenticatedUser,
    ctx: Context,
) -> NodeView:
    """createNode: a ContainerNode, a LinkNode, or an empty DataNode (an empty File).

    ``.auto`` gets a fresh name (the view's path); ``.null`` creates nothing.
    """
    _check_uri(doc, path, ctx)
    nodes.check_create_type(doc)
    if basename(path) == AUTO:
        path = join(parent_of(path), auto_name())
    elif basename(path) == NULL:
        return NodeView(path, doc.type)

    def check() -> None:
        with factory() as session:
            nodes.check_new_node(session, path, ctx.uris)
        nodes.check_create_properties(doc, user)

    await to_thread.run_sync(check)
    if doc.type == "DataNode":
        await data.write_file(
            factory,
            path,
            0,
            data.empty_stream(),
            md5=None,
            user=user,
            settings=ctx.settings,
            uris=ctx.uris,
        )

    def finish() -> NodeView:
        with factory.begin() as session:
            if doc.type == "ContainerNode":
                nodes.create_container(session, path, doc, user, ctx.uris)
            elif doc.type == "LinkNode":
                nodes.create_link(session, path, doc, user, ctx.uris)
            else:
                node = nodes.get(session, path, ctx.uris)
                properties.apply(session, path, doc.properties, node.system_properties())
            return _document(session, path, ctx)

    return await to_thread.run_sync(finish)


async def update(
    factory: sessionmaker[Session],
    path: str,
    doc: NodeDoc,
    user: AuthenticatedUser,
    ctx: Context,
) -> NodeView:
    """setNode: merge the sent properties into the node's; nil deletes one."""
    _check_uri(doc, path, ctx)

    def apply() -> NodeView:
        with factory.begin() as session:
            nodes.set_properties(session, path, doc.properties, user, ctx.uris)
            return _document(session, path, ctx)

    return await to_thread.run_sync(apply)


def delete(
    session: Session,
    path: str,
    user: AuthenticatedUser,
    ctx: Context,
    *,
    force: bool,
    last_copy: bool,
) -> None:
    """deleteNode, recursive for containers, under the files API's deletion rule."""
    if path == "":
        raise PermissionDenied("the root node cannot be deleted")
    node = nodes.get(session, path, ctx.uris)
    moves.check_owner_of_tree(session, node, user)
    moves.check_not_busy(session, node)
    verdicts = moves.check_delete_rule(
        session, node, user, ctx.settings, force=force, last_copy=last_copy
    )
    moves.delete_tree(
        session,
        node,
        verdicts,
        user.name,
        via="vospace",
        flags={"force": force, "last_copy_flag": last_copy},
    )


def availability(session: Session) -> tuple[bool, str]:
    """VOSI availability: whether the catalogue database answers, and a note saying so."""
    try:
        session.execute(text("SELECT 1"))
    except Exception as exc:  # any database failure means unavailable
        return False, f"The catalogue database is unreachable: {type(exc).__name__}"
    return True, "The service is accepting requests."
