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
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from librarian_server.orm import File, VOSpaceContainer, VOSpaceLink, utcnow
from librarian_server.services.catalogue.subtrees import prefix_range
from librarian_server.services.core.sql import among
from librarian_server.services.vospace import properties
from librarian_server.services.vospace.model import NodeView
from librarian_server.services.vospace.nodes import busy_names

SessionOpener = Callable[[], AbstractContextManager[Session]]
BATCH = 1000
SEEK = 4  # rows read by a seek past a big subtree
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
    """One table's children of ``prefix`` with key >= ``start``, skipping deeper subtrees.

    Rows are read as plain tuples. A batch that ended inside a child's subtree means
    subtrees here are big, so the next read (a seek past that subtree) asks for few
    rows; a batch of fresh children doubles the next one again.
    """
    high = prefix_range(prefix)[1] if prefix else None
    # A container's key is its row's name plus '/': start the scan at the row itself.
    position, inclusive = (start[:-1] if start.endswith("/") and start != prefix else start), True
    limit = batch
    columns = list(model.__table__.columns)
    while True:
        query = select(*columns).where(column >= position if inclusive else column > position)
        if high is not None:
            query = query.where(column < high)
        with opener() as session:
            rows = session.execute(query.order_by(column).limit(limit)).all()
        skipped_last = False
        for row in rows:
            name: str = getattr(row, column.key)
            if name < position or (name == position and not inclusive):
                skipped_last = True
                continue  # inside a subtree already reported
            skipped_last = False
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
        if len(rows) < limit:
            return
        limit = max(SEEK, limit // 16) if skipped_last else min(batch, limit * 2)


_WALK = """
WITH RECURSIVE walk(name, n) AS (
    SELECT (SELECT name FROM files WHERE name {op} :position{upper} ORDER BY name LIMIT 1), 1
  UNION ALL
    SELECT (
        SELECT f.name FROM files f
        WHERE f.name > walk.name{f_upper} AND f.name >= CASE
            WHEN {find}(substr(walk.name, :skip + 1), '/') > 0
            THEN substr(walk.name, 1, :skip + {find}(substr(walk.name, :skip + 1), '/') - 1) || '0'
            ELSE walk.name END
        ORDER BY f.name LIMIT 1), walk.n + 1
    FROM walk WHERE walk.name IS NOT NULL AND walk.n < :limit
)
SELECT f.name, f.size, f.checksum, f.uploader, f.created_time
FROM walk JOIN files f ON f.name = walk.name ORDER BY f.name
"""


def _walk_files(
    opener: SessionOpener, prefix: str, start: str, batch: int
) -> Iterator[Child] | None:
    """Children among the files by a skip scan inside the database: one query per batch.

    A recursive query hops from each child to the next with one index seek, past a
    child container's whole subtree, however many files it holds. None where the
    database has no such query here (the Python scan serves then).
    """
    with opener() as session:
        dialect = session.get_bind().dialect.name
    if dialect not in ("postgresql", "sqlite"):
        return None
    return _walk(opener, dialect, prefix, start, batch)


def _walk(
    opener: SessionOpener, dialect: str, prefix: str, start: str, batch: int
) -> Iterator[Child]:
    high = prefix_range(prefix)[1] if prefix else None
    position, inclusive = (start[:-1] if start.endswith("/") and start != prefix else start), True
    queries = {
        op: text(
            _WALK.format(
                op=op,
                upper=" AND name < :high" if high is not None else "",
                f_upper=" AND f.name < :high" if high is not None else "",
                find="strpos" if dialect == "postgresql" else "instr",
            )
        )
        for op in (">=", ">")
    }
    while True:
        params: dict[str, object] = {"position": position, "skip": len(prefix), "limit": batch}
        if high is not None:
            params["high"] = high
        with opener() as session:
            rows = session.execute(queries[">=" if inclusive else ">"], params).all()
        for row in rows:
            name: str = row.name
            head, slash, _ = name[len(prefix) :].partition("/")
            if slash:
                child = Child(prefix + head + "/", prefix + head, "ContainerNode", _FileRow(*row))
                position, inclusive = prefix + head + "0", True
            else:
                child = Child(name, name, "DataNode", _FileRow(*row))
                position, inclusive = name, False
            if child.key >= start:
                yield child
        if len(rows) < batch:
            return


@dataclass
class _FileRow:
    name: str
    size: int
    checksum: str
    uploader: str
    created_time: datetime

    def __post_init__(self) -> None:
        if isinstance(self.created_time, str):  # SQLite through text(): no type processing
            self.created_time = datetime.fromisoformat(self.created_time)
        if self.created_time.tzinfo is None:
            self.created_time = self.created_time.replace(tzinfo=UTC)


def _merged(opener: SessionOpener, prefix: str, start: str, batch: int) -> Iterator[Child]:
    files = _walk_files(opener, prefix, start, batch)
    streams = [
        files if files is not None else _scan(opener, File, File.name, prefix, start, batch),
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
        shadowed |= set(
            session.scalars(select(File.name).where(among(session, File.name, containers)))
        )
        shadowed |= set(
            session.scalars(
                select(VOSpaceLink.path).where(among(session, VOSpaceLink.path, containers))
            )
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
