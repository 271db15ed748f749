"""Portable SQL the ORM does not spell: inserts that skip rows a unique index refuses, and
long ``IN (...)`` lists cut to a size every database takes."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any, TypeVar

from sqlalchemy import CursorResult, Executable, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

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
