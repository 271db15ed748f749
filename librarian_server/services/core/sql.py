"""Portable SQL the ORM does not spell: inserts that skip rows a unique index refuses, long
``IN (...)`` lists (cut to a size every database takes, or one array on PostgreSQL), and
row claims."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any, TypeVar

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    CursorResult,
    Executable,
    String,
    Table,
    any_,
    literal,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import InstrumentedAttribute, Session

T = TypeVar("T")

IN_BATCH = 500
"""Values per ``IN (...)``: far below SQLite's and PostgreSQL's parameter limits, and a
statement that size is still cheap to compile."""


def in_chunks(values: Iterable[T], size: int = IN_BATCH) -> Iterator[list[T]]:
    """``values`` in lists of at most ``size``, one per ``IN (...)`` statement."""
    it = iter(values)
    while chunk := list(islice(it, size)):
        yield chunk


def insert_ignoring_conflicts(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """INSERT ... ON CONFLICT DO NOTHING, as one cached statement run for every row.

    The unique indexes decide what is a duplicate, so two processes racing to
    insert the same rows end with one copy of each.
    """
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    session.execute(module.insert(table).on_conflict_do_nothing(), rows)


def execute_count(session: Session, statement: Executable) -> int:
    """Run an UPDATE or DELETE and return how many rows it touched."""
    result = session.execute(statement)
    return int(result.rowcount or 0) if isinstance(result, CursorResult) else 0


def among(session: Session, column: Any, values: list[str]) -> ColumnElement[bool]:
    """``column IN values``; on PostgreSQL one array parameter instead of one per value."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(literal(values, type_=ARRAY(String)))  # type: ignore[no-any-return]
    return column.in_(values)  # type: ignore[no-any-return]


def lock_rows(
    session: Session,
    id_column: InstrumentedAttribute[int],
    *where: ColumnElement[bool],
    ids: Iterable[int] | None = None,
    limit: int | None = None,
    skip_locked: bool = True,
) -> list[int]:
    """Ids of the rows matching ``where``, locked (``FOR UPDATE``) in id order.

    With ``skip_locked`` a row another transaction holds is passed over rather than
    waited for, so workers do not queue behind each other; the id order means two
    lockers never deadlock. SQLite has one writer and ignores the clause.
    """
    query = select(id_column).where(*where)
    if ids is not None:
        query = query.where(id_column.in_(list(ids)))
    query = query.order_by(id_column).limit(limit).with_for_update(skip_locked=skip_locked)
    return list(session.scalars(query))


def compare_and_set(
    session: Session,
    id_column: InstrumentedAttribute[int],
    ids: list[int],
    *where: ColumnElement[bool],
    values: dict[str, Any],
    synchronize: bool = True,
) -> list[int]:
    """Set ``values`` on those of ``ids`` still matching ``where``; return the ids it changed.

    The condition is checked again by the UPDATE itself, so a row another process
    changed since it was read (SQLite takes no row locks) is not taken twice.
    ``synchronize=False`` leaves objects already loaded in the session as they were.
    """
    if not ids:
        return []
    statement = (
        update(id_column.class_)
        .where(id_column.in_(ids), *where)
        .values(**values)
        .returning(id_column)
    )
    if not synchronize:
        statement = statement.execution_options(synchronize_session=False)
    return list(session.scalars(statement))


def claim_rows(
    session: Session,
    id_column: InstrumentedAttribute[int],
    *where: ColumnElement[bool],
    values: dict[str, Any],
    ids: Iterable[int] | None = None,
    limit: int | None = None,
    skip_locked: bool = True,
    synchronize: bool = True,
) -> list[int]:
    """Claim rows for this transaction: lock those matching ``where``, then set ``values``
    on them by compare-and-set. Whoever changes a row first owns it; the ids returned
    are this caller's to act on."""
    locked = lock_rows(session, id_column, *where, ids=ids, limit=limit, skip_locked=skip_locked)
    return compare_and_set(
        session, id_column, locked, *where, values=values, synchronize=synchronize
    )
