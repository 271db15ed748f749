"""The node tree over the catalogue: resolving paths, node views, createNode, setNode.

A DataNode is a File, a LinkNode a stored link, a ContainerNode an explicit
container or any path prefix something lives under. Where a name is several things
at once (only possible through the Librarian API: files ``a`` and ``a/b``), the File
wins, then the link, then the container.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from librarian_client.models import PermissionLevel
from librarian_server.orm import (
    ACTIVE_STATUSES,
    File,
    IncomingTransfer,
    VOSpaceContainer,
    VOSpaceLink,
    utcnow,
)
from librarian_server.services.accounts.auth import AuthenticatedUser, check_permission
from librarian_server.services.catalogue import namespace
from librarian_server.services.catalogue.subtrees import prefix_range
from librarian_server.services.core.sql import among
from librarian_server.services.vospace import properties
from librarian_server.services.vospace.faults import (
    ContainerNotFound,
    DuplicateNode,
    InvalidArgument,
    LinkFound,
    NodeNotFound,
    PermissionDenied,
    TypeNotSupported,
)
from librarian_server.services.vospace.model import NodeDoc, NodeView, Prop, PropertyValue
from librarian_server.services.vospace.uris import NULL, NodeURIs


@dataclass
class Node:
    """A resolved node and the catalogue rows behind it."""

    path: str
    type: str
    file: File | None = None
    link: VOSpaceLink | None = None
    container: VOSpaceContainer | None = None
    created: datetime | None = None  # implicit containers: their first file's time

    @property
    def owner(self) -> str | None:
        if self.file is not None:
            return self.file.uploader
        if self.link is not None:
            return self.link.owner
        return self.container.owner if self.container is not None else None

    def system_properties(self) -> list[Prop]:
        if self.file is not None:
            return properties.file_properties(self.file)
        if self.link is not None:
            return properties.plain_properties(self.link.created_time, self.link.owner)
        if self.container is not None:
            return properties.plain_properties(self.container.created_time, self.container.owner)
        return properties.plain_properties(self.created or utcnow(), None)


def first_below(session: Session, path: str) -> datetime | None:
    """When something lives below ``path`` (an implicit container), a time for it."""
    low, high = prefix_range(path + "/")
    created = session.scalar(
        select(File.created_time)
        .where(File.name >= low, File.name < high)
        .order_by(File.name)
        .limit(1)
    )
    if created is not None:
        return created
    for model in (VOSpaceContainer, VOSpaceLink):
        created = session.scalar(
            select(model.created_time)
            .where(model.path >= low, model.path < high)
            .order_by(model.path)
            .limit(1)
        )
        if created is not None:
            return created
    return None


def find(session: Session, path: str) -> Node | None:
    if path == "":
        return Node("", "ContainerNode", created=first_below_root(session))
    if path.rsplit("/", 1)[-1] == NULL:
        return None
    if (file := session.get(File, path)) is not None:
        return Node(path, "DataNode", file=file)
    if (link := session.get(VOSpaceLink, path)) is not None:
        return Node(path, "LinkNode", link=link)
    if (container := session.get(VOSpaceContainer, path)) is not None:
        return Node(path, "ContainerNode", container=container)
    if (created := first_below(session, path)) is not None:
        return Node(path, "ContainerNode", created=created)
    return None


def first_below_root(session: Session) -> datetime | None:
    return session.scalar(select(File.created_time).order_by(File.name).limit(1))


def get(session: Session, path: str, uris: NodeURIs) -> Node:
    check_ancestors(session, path, uris, missing=NodeNotFound)
    node = find(session, path)
    if node is None:
        raise NodeNotFound(uris.uri(path))
    return node


def check_ancestors(
    session: Session, path: str, uris: NodeURIs, *, missing: type[Exception] = ContainerNotFound
) -> None:
    """Every ancestor must be a container: a link on the way is LinkFound, a file is missing."""
    parts = path.split("/")[:-1]
    ancestors = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    if not ancestors:
        return
    links = set(session.scalars(select(VOSpaceLink.path).where(VOSpaceLink.path.in_(ancestors))))
    files = set(session.scalars(select(File.name).where(File.name.in_(ancestors))))
    for ancestor in ancestors:
        if ancestor in files:
            raise missing(f"{uris.uri(ancestor)} is a DataNode, not a container")
        if ancestor in links:
            raise LinkFound(uris.uri(ancestor))
    parent = ancestors[-1]
    if find(session, parent) is None:
        raise missing(uris.uri(parent))


def busy_names(session: Session, names: list[str]) -> set[str]:
    """Names with an upload in flight (a push not yet committed)."""
    if not names:
        return set()
    return set(
        session.scalars(
            select(IncomingTransfer.name).where(
                IncomingTransfer.status.in_(ACTIVE_STATUSES),
                among(session, IncomingTransfer.name, names),
            )
        )
    )


def view(session: Session, node: Node) -> NodeView:
    user = properties.user_properties(session, [node.path]).get(node.path, {})
    return NodeView(
        path=node.path,
        type=node.type,
        properties=properties.merge(node.system_properties(), user),
        target=node.link.target if node.link is not None else None,
        busy=node.type == "DataNode" and bool(busy_names(session, [node.path])),
    )


def writer(user: AuthenticatedUser | None) -> AuthenticatedUser:
    """Writes need an account with read-append or more (raises a LibrarianError)."""
    return check_permission(user, PermissionLevel.READAPPEND)


def check_owner(user: AuthenticatedUser, owner: str | None, what: str) -> None:
    """Changing or removing what exists: its owner, or an admin."""
    if user.permission is PermissionLevel.ADMIN or (owner is not None and owner == user.name):
        return
    raise PermissionDenied(
        f"{what} belongs to {owner or 'the catalogue'}; only they or an admin may change it"
    )


KINDS: dict[str, namespace.Kind] = {
    "DataNode": "file",
    "LinkNode": "link",
    "ContainerNode": "directory",
}


def check_new_node(session: Session, path: str, uris: NodeURIs) -> None:
    """A node may be created at ``path``: its parent is a container and the name is free."""
    if path == "":
        raise DuplicateNode(uris.uri(path))
    check_ancestors(session, path, uris)
    if find(session, path) is not None:
        raise DuplicateNode(uris.uri(path))


def create_container(
    session: Session, path: str, doc: NodeDoc, user: AuthenticatedUser, uris: NodeURIs
) -> Node:
    namespace.lock_names(session, [path])
    check_new_node(session, path, uris)
    row = VOSpaceContainer(path=path, owner=user.name, created_time=utcnow())
    session.add(row)
    session.flush()
    namespace.check_free(session, [path], kind="directory")  # after the write: race-safe
    node = Node(path, "ContainerNode", container=row)
    properties.apply(session, path, doc.properties, node.system_properties())
    return node


def create_link(
    session: Session, path: str, doc: NodeDoc, user: AuthenticatedUser, uris: NodeURIs
) -> Node:
    check_new_node(session, path, uris)
    target = (doc.target or "").strip()
    if not target or len(target) > 4096 or ":" not in target:
        raise InvalidArgument(
            "a LinkNode target must be an absolute URI of at most 4096 characters"
        )
    namespace.lock_names(session, [path])
    row = VOSpaceLink(path=path, target=target, owner=user.name, created_time=utcnow())
    session.add(row)
    session.flush()
    namespace.check_free(session, [path], kind="link")
    node = Node(path, "LinkNode", link=row)
    properties.apply(session, path, doc.properties, node.system_properties())
    return node


def check_create_properties(doc: NodeDoc, user: AuthenticatedUser) -> None:
    """Before anything is written: read-only properties only with the values they will get."""
    allowed = {properties.CREATOR: user.name}
    if doc.type == "DataNode":
        allowed |= {properties.LENGTH: "0", properties.MD5: "d41d8cd98f00b204e9800998ecf8427e"}
    for prop in doc.properties:
        if prop.uri in properties.READ_ONLY and prop.value != allowed.get(prop.uri):
            raise PermissionDenied(f"{prop.uri} is read-only")


def check_create_type(doc: NodeDoc) -> None:
    if doc.type not in ("DataNode", "ContainerNode", "LinkNode"):
        raise TypeNotSupported(f"vos:{doc.type} nodes are not supported here")


def set_properties(
    session: Session,
    path: str,
    requested: list[PropertyValue],
    user: AuthenticatedUser,
    uris: NodeURIs,
) -> Node:
    node = get(session, path, uris)
    if path == "":
        raise PermissionDenied("the root node's properties cannot be changed")
    changes = [p for p in requested if p.uri not in properties.READ_ONLY]
    if changes:
        check_owner(user, node.owner, uris.uri(path))
    properties.apply(session, path, requested, node.system_properties())
    return node


def resolve_internal_link(session: Session, node: Node, uris: NodeURIs, depth: int = 8) -> Node:
    """Follow links to nodes of this service (bounded, so a loop ends) to what they name."""
    seen = 0
    while node.link is not None:
        seen += 1
        if seen > depth or not uris.is_mine(node.link.target):
            raise LinkFound(f"{uris.uri(node.path)} -> {node.link.target}")
        node = get(session, uris.path_of(node.link.target), uris)
    return node
