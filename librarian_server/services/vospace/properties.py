"""Node properties: the catalogue's own (read-only) and the ones users set (stored).

``#length``, ``#MD5``, ``#date``, ``#ctime`` and ``#creator`` come from the catalogue
and cannot be set. ``#type`` defaults to the MIME type guessed from the name and may
be set, because the ``vos`` client sends its own guess with every node it creates.
Everything else a user sets is kept verbatim; ``xsi:nil`` deletes it.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import delete, func, literal, select, update
from sqlalchemy.orm import Session

from librarian_server.orm import File, VOSpaceProperty
from librarian_server.services.catalogue.subtrees import prefix_range
from librarian_server.services.core.sql import among, in_chunks
from librarian_server.services.vospace.faults import InvalidArgument, PermissionDenied
from librarian_server.services.vospace.model import (
    CORE,
    MAX_PROPERTIES,
    MAX_PROPERTY_URI,
    MAX_PROPERTY_VALUE,
    Prop,
    PropertyValue,
)

LENGTH = CORE + "length"
MD5 = CORE + "MD5"
DATE = CORE + "date"
CTIME = CORE + "ctime"
TYPE = CORE + "type"
CREATOR = CORE + "creator"
READ_ONLY = frozenset({LENGTH, MD5, DATE, CTIME, CREATOR})
PROVIDED = (LENGTH, MD5, DATE, CTIME, TYPE, CREATOR)
ACCEPTED = tuple(
    CORE + name
    for name in (
        "title subject description publisher contributor type format identifier source "
        "language relation coverage rights groupread groupwrite publicread ispublic"
    ).split()
)
MAX_URI = MAX_PROPERTY_URI
MAX_VALUE = MAX_PROPERTY_VALUE
_CHUNK = 1000


def vos_date(moment: datetime) -> str:
    """UTC without a zone suffix, as CADC services write it (and ``vls -l`` parses)."""
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"
    )


def guessed_type(path: str) -> str | None:
    return mimetypes.guess_type(path, strict=False)[0]


def file_properties(file: File) -> list[Prop]:
    props = [Prop(LENGTH, str(file.size), True)]
    algorithm, _, digest = file.checksum.partition(":")
    if algorithm == "md5":
        props.append(Prop(MD5, digest, True))
    date = vos_date(file.created_time)
    props += [Prop(DATE, date, True), Prop(CTIME, date, True)]
    if (mime := guessed_type(file.name)) is not None:
        props.append(Prop(TYPE, mime, False))
    props.append(Prop(CREATOR, file.uploader, True))
    return props


def plain_properties(created: datetime, owner: str | None) -> list[Prop]:
    """Containers and links: a date and, when known, who made them."""
    date = vos_date(created)
    props = [Prop(DATE, date, True), Prop(CTIME, date, True)]
    if owner:
        props.append(Prop(CREATOR, owner, True))
    return props


def merge(system: list[Prop], user: dict[str, str]) -> list[Prop]:
    """The catalogue's properties, overridden (``#type``) and extended by the user's."""
    merged = [Prop(p.uri, user[p.uri], False) if p.uri in user else p for p in system]
    known = {p.uri for p in system}
    merged += [Prop(uri, user[uri], False) for uri in sorted(user) if uri not in known]
    return merged


def user_properties(session: Session, paths: Iterable[str]) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {}
    for chunk in in_chunks(paths, _CHUNK):
        rows = session.execute(
            select(VOSpaceProperty.path, VOSpaceProperty.uri, VOSpaceProperty.value).where(
                among(session, VOSpaceProperty.path, chunk)
            )
        )
        for path, uri, value in rows:
            found.setdefault(path, {})[uri] = value
    return found


def check_request(requested: list[PropertyValue], system: list[Prop]) -> None:
    """Refuse a change to a read-only property; the same value sent back is fine."""
    current = {p.uri: p.value for p in system}
    for prop in requested:
        if not prop.uri or len(prop.uri) > MAX_URI:
            raise InvalidArgument(f"a property URI must have 1 to {MAX_URI} characters")
        if prop.value is not None and len(prop.value) > MAX_VALUE:
            raise InvalidArgument(f"the value of {prop.uri} is longer than {MAX_VALUE}")
        if prop.uri in READ_ONLY and prop.value != current.get(prop.uri):
            raise PermissionDenied(f"{prop.uri} is read-only")


def apply(session: Session, path: str, requested: list[PropertyValue], system: list[Prop]) -> None:
    """setNode: the union of old and new; an empty value blanks, nil deletes."""
    check_request(requested, system)
    defaults = {p.uri: p.value for p in system if not p.read_only}
    # One query for the node's rows, not one per property sent.
    rows = {
        row.uri: row
        for row in session.scalars(select(VOSpaceProperty).where(VOSpaceProperty.path == path))
    }
    for prop in requested:
        if prop.uri in READ_ONLY:
            continue
        row = rows.get(prop.uri)
        if prop.value is None or prop.value == defaults.get(prop.uri):
            if row is not None:
                session.delete(row)
                del rows[prop.uri]
        elif row is None:
            rows[prop.uri] = VOSpaceProperty(path=path, uri=prop.uri, value=prop.value)
            session.add(rows[prop.uri])
        else:
            row.value = prop.value
    if len(rows) > MAX_PROPERTIES:
        raise InvalidArgument(
            f"a node keeps at most {MAX_PROPERTIES} properties; this would make {len(rows)}"
        )
    session.flush()


def delete_tree(session: Session, path: str) -> None:
    """Properties of a node and of everything below it."""
    condition = VOSpaceProperty.path == path
    if path:
        low, high = prefix_range(path + "/")
        condition = condition | ((VOSpaceProperty.path >= low) & (VOSpaceProperty.path < high))
    session.execute(
        delete(VOSpaceProperty).where(condition), execution_options={"synchronize_session": False}
    )


def move_tree(session: Session, old: str, new: str) -> None:
    session.execute(
        update(VOSpaceProperty).where(VOSpaceProperty.path == old).values(path=new),
        execution_options={"synchronize_session": False},
    )
    low, high = prefix_range(old + "/")
    session.execute(
        update(VOSpaceProperty)
        .where(VOSpaceProperty.path >= low, VOSpaceProperty.path < high)
        .values(path=literal(new + "/") + func.substr(VOSpaceProperty.path, len(low) + 1)),
        execution_options={"synchronize_session": False},
    )


def contained(session: Session, limit: int = 1000) -> list[str]:
    """Property URIs in use by some node (for ``/properties``)."""
    return list(
        session.scalars(
            select(VOSpaceProperty.uri).distinct().order_by(VOSpaceProperty.uri).limit(limit)
        )
    )
