"""One namespace: a name is a file or a directory, never both.

A file ``odd`` beside files ``odd/...`` makes one of them unreachable as a path
(VOSpace, a sneakernet disk, any filesystem a copy lands on). Every way a File
comes to exist or changes its name checks here: stage (early, for a clear answer),
and the commit or rename itself, inside its own transaction, so that two uploads
racing for ``odd`` and ``odd/x`` cannot both win. The race is closed per top-level
segment (conflicting names share it): on PostgreSQL by a transaction-scoped
advisory lock taken before the check; on SQLite by checking after the transaction's
first write, when it holds the database's one write lock.

VOSpace's explicit containers and links take part too: a file may not be created
where a container or link is, nor under a link.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Literal

from sqlalchemy import ARRAY, ColumnElement, String, any_, func, literal, select, text
from sqlalchemy.orm import InstrumentedAttribute, Session

from librarian_server.errors import NameConflict
from librarian_server.orm import File, VOSpaceContainer, VOSpaceLink
from librarian_server.services.core.sql import in_chunks

_LOCK_BUCKETS = 4096
_SHOWN = 5


def ancestors(name: str) -> list[str]:
    """``a/b/c`` -> ``["a", "a/b"]``: the directories a name lives in."""
    parts = name.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


def lock_names(session: Session, names: Iterable[str]) -> None:
    """Serialise, until the transaction ends, with whoever writes names sharing a top segment.

    PostgreSQL only (SQLite has one writer at a time already). Locks are taken in
    key order, so two batches cannot deadlock on them.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    keys = sorted({_lock_key(name.split("/", 1)[0]) for name in names})
    for key in keys:
        session.execute(select(func.pg_advisory_xact_lock(key)))


def _lock_key(segment: str) -> int:
    digest = hashlib.blake2b(segment.encode(), digest_size=8).digest()
    # A fixed range of keys, apart from other advisory-lock users' small integers.
    return 0x4C49_4200_0000 + int.from_bytes(digest, "big") % _LOCK_BUCKETS


def _under(column: InstrumentedAttribute[str], name: str) -> ColumnElement[bool]:
    """``column`` names something strictly below ``name`` (an index range, not a LIKE)."""
    return (column >= name + "/") & (column < name + "0")  # '0' follows '/'


Kind = Literal["file", "directory", "link"]


def conflicts(session: Session, names: Iterable[str], *, kind: Kind = "file") -> dict[str, str]:
    """For each name that cannot be a ``kind`` node, why: a file or link on its path, etc.

    A file or a link needs nothing below it; a directory (a VOSpace container, or a
    subtree just moved there) needs its name not to be a file. A name that is itself
    an existing File is not a conflict for a file: that is the ordinary "already
    exists" case, with its own answer.
    """
    wanted = list(dict.fromkeys(names))
    why: dict[str, str] = {}
    batch = set(wanted)
    above: dict[str, list[str]] = {}
    for name in wanted:
        for parent in ancestors(name):
            if parent in batch:
                why[name] = f"{name!r} would be under {parent!r}, which is also being added"
            above.setdefault(parent, []).append(name)
    parents = list(above)
    for column, what in ((File.name, "a file"), (VOSpaceLink.path, "a link")):
        for found in _among(session, column, parents):
            for name in above[found]:
                why.setdefault(name, f"{name!r} would be under {found!r}, which is {what}")
    rest = [name for name in wanted if name not in why]
    if kind != "directory":
        _below(session, rest, why)
    same: list[tuple[InstrumentedAttribute[str], str]] = []
    if kind == "file":
        same = [(VOSpaceContainer.path, "a container"), (VOSpaceLink.path, "a link")]
    else:
        same = [(File.name, "a file")]
    for column, what in same:
        for name in _among(session, column, rest):
            why.setdefault(name, f"{name!r} is {what}")
    return why


def _among(session: Session, column: InstrumentedAttribute[str], values: list[str]) -> list[str]:
    """The values that ``column`` holds; PostgreSQL gets one array parameter per chunk."""
    postgres = session.get_bind().dialect.name == "postgresql"
    found: list[str] = []
    for chunk in in_chunks(values):
        condition = (
            column == any_(literal(chunk, type_=ARRAY(String))) if postgres else column.in_(chunk)
        )
        found.extend(session.scalars(select(column).where(condition)))
    return found


_BELOW: tuple[tuple[InstrumentedAttribute[str], str], ...] = (
    (File.name, "files such as {} live"),
    (VOSpaceContainer.path, "the container {} lives"),
    (VOSpaceLink.path, "the link {} lives"),
)


def _probe(column: InstrumentedAttribute[str], collate: str) -> str:
    table, name = column.class_.__tablename__, column.key  # our own schema's names
    return (
        f"EXISTS (SELECT 1 FROM {table} t "  # noqa: S608 - identifiers of our own schema
        f"WHERE t.{name} >= (v.n || '/'){collate} AND t.{name} < (v.n || '0'){collate})"
    )  # '0' follows '/'; the names' byte order (PostgreSQL: "C") keeps the index usable


def _below(session: Session, names: list[str], why: dict[str, str]) -> None:
    """Names with something below them: a directory of files, containers or links.

    One statement per chunk, the chunk one array parameter (PostgreSQL) or JSON list
    (SQLite) unnested in the database, each name probed there by an index range: a
    statement with a parameter or an EXISTS per name costs more to build than to run.
    """
    postgres = session.get_bind().dialect.name == "postgresql"
    source = (
        "SELECT unnest(CAST(:names AS text[]))"
        if postgres
        else "SELECT value FROM json_each(:names)"
    )
    collate = ' COLLATE "C"' if postgres else ""
    probes = ", ".join(_probe(column, collate) for column, _ in _BELOW)
    sql = text(f"WITH v(n) AS ({source}) SELECT v.n, {probes} FROM v")  # noqa: S608
    for chunk in in_chunks(names):
        found = session.execute(sql, {"names": chunk if postgres else json.dumps(chunk)})
        for name, *hits in found:
            for (column, what), hit in zip(_BELOW, hits, strict=True):
                if hit and name not in why:
                    below = session.scalar(
                        select(column).where(_under(column, name)).order_by(column).limit(1)
                    )
                    why[name] = f"{name!r} is a directory: {what.format(repr(below))} under it"


def check_free(session: Session, names: Iterable[str], *, kind: Kind = "file") -> None:
    """Raise NameConflict (409) naming the first few clashes, if any."""
    why = conflicts(session, names, kind=kind)
    if why:
        shown = "; ".join(list(why.values())[:_SHOWN])
        more = f" (and {len(why) - _SHOWN} more)" if len(why) > _SHOWN else ""
        raise NameConflict(f"Name clash: {shown}{more}.")
