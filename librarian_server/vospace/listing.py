"""Direct children of a container, in a stable order, in constant memory.

Children come from three byte-ordered tables (files, explicit containers, links). Each
is read by keyset in batches; a row deeper than one level stands for a child
container, and the scan then seeks past that whole subtree (to ``prefix + child +
'0'``, the successor of ``child + '/'``) instead of reading it, so a child holding a
million files costs one index seek. The three streams merge on a sort key: a child's
path, with ``/`` appended for containers. That key order is the listing order, and a
page starts at a child's key, so paging with ``uri`` is exact under concurrent change.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..orm import File, VOSpaceContainer, VOSpaceLink, utcnow
from . import properties
from .model import NodeView
from .nodes import busy_names, prefix_range

SessionOpener = Callable[[], AbstractContextManager[Session]]
BATCH = 1000
_RANK = {"DataNode": 0, "LinkNode": 1, "ContainerNode": 2}


@dataclass
class Child:
    key: str
    path: str
    type: str
    row: Any  # File, VOSpaceLink, VOSpaceContainer, or the first row below a container
    explicit: bool = False


def _scan(
    opener: SessionOpener,
    model: Any,
    column: Any,
    prefix: str,
    start: str,
    batch: int,
) -> Iterator[Child]:
    """One table's children of ``prefix`` with key >= ``start``, skipping deeper subtrees."""
    high = prefix_range(prefix)[1] if prefix else None
    # A container's key is its row's name plus '/': start the scan at the row itself.
    position, inclusive = (start[:-1] if start.endswith("/") and start != prefix else start), True
    while True:
        query = select(model).where(column >= position if inclusive else column > position)
        if high is not None:
            query = query.where(column < high)
        with opener() as session:
            rows = list(session.scalars(query.order_by(column).limit(batch)))
            session.expunge_all()
        for row in rows:
            name: str = getattr(row, column.key)
            if name < position or (name == position and not inclusive):
                continue  # inside a subtree already reported
            head, slash, _ = name[len(prefix) :].partition("/")
            if slash:
                child = Child(prefix + head + "/", prefix + head, "ContainerNode", row)
                position, inclusive = prefix + head + "0", True
            elif model is VOSpaceContainer:
                child = Child(name + "/", name, "ContainerNode", row, explicit=True)
                position, inclusive = name + "0", True
            else:
                kind = "DataNode" if model is File else "LinkNode"
                child = Child(name, name, kind, row)
                position, inclusive = name, False
            if child.key >= start:
                yield child
        if len(rows) < batch:
            return


def _merged(opener: SessionOpener, prefix: str, start: str, batch: int) -> Iterator[Child]:
    streams = [
        _scan(opener, File, File.name, prefix, start, batch),
        _scan(opener, VOSpaceContainer, VOSpaceContainer.path, prefix, start, batch),
        _scan(opener, VOSpaceLink, VOSpaceLink.path, prefix, start, batch),
    ]
    merged = heapq.merge(*streams, key=lambda c: c.key)
    for _, group in itertools.groupby(merged, key=lambda c: c.key):
        candidates = list(group)
        yield min(candidates, key=lambda c: (_RANK[c.type], not c.explicit))


def _created(child: Child) -> datetime:
    created: datetime | None = child.row.created_time
    return created or utcnow()


def _views(session: Session, chunk: list[Child]) -> list[NodeView]:
    """Properties, busy flags, and the rare shadowed container (a file of the same name)."""
    containers = [c.path for c in chunk if c.type == "ContainerNode"]
    shadowed: set[str] = set()
    if containers:
        shadowed |= set(session.scalars(select(File.name).where(File.name.in_(containers))))
        shadowed |= set(
            session.scalars(select(VOSpaceLink.path).where(VOSpaceLink.path.in_(containers)))
        )
    paths = [c.path for c in chunk]
    user = properties.user_properties(session, paths)
    busy = busy_names(session, [c.path for c in chunk if c.type == "DataNode"])
    views = []
    for c in chunk:
        if c.type == "ContainerNode" and c.path in shadowed:
            continue
        if c.type == "DataNode":
            system = properties.file_properties(c.row)
        elif c.type == "LinkNode" or c.explicit:
            system = properties.plain_properties(c.row.created_time, c.row.owner)
        else:
            system = properties.plain_properties(_created(c), None)
        views.append(
            NodeView(
                path=c.path,
                type=c.type,
                properties=properties.merge(system, user.get(c.path, {})),
                target=c.row.target if c.type == "LinkNode" else None,
                busy=c.path in busy,
            )
        )
    return views


def start_key(session: Session, path: str) -> str:
    """The sort key of the child named ``path`` (the ``uri`` paging parameter)."""
    if session.get(File, path) is not None or session.get(VOSpaceLink, path) is not None:
        return path
    if session.get(VOSpaceContainer, path) is not None:
        return path + "/"
    low, high = prefix_range(path + "/")
    for column in (File.name, VOSpaceContainer.path, VOSpaceLink.path):
        if session.scalar(select(column).where(column >= low, column < high).limit(1)):
            return path + "/"
    return path


def children(
    opener: SessionOpener, container: str, *, start: str | None = None, limit: int | None = None
) -> Iterator[NodeView]:
    """Children of ``container`` from key ``start`` on, at most ``limit`` (None: all)."""
    if limit is not None and limit <= 0:
        return
    prefix = container + "/" if container else ""
    batch = BATCH if limit is None else min(BATCH, limit + 1)
    stream = _merged(opener, prefix, start or prefix, batch)
    remaining = limit
    while remaining is None or remaining > 0:
        want = BATCH if remaining is None else min(BATCH, remaining)
        chunk = list(itertools.islice(stream, want))
        if not chunk:
            return
        with opener() as session:
            views = _views(session, chunk)
        yield from views
        if remaining is not None:
            remaining -= len(views)
        if len(chunk) < want:
            return
