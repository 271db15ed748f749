"""Portable SQL the ORM does not spell: inserts that skip rows a unique index refuses, IN lists."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ARRAY, ColumnElement, CursorResult, Executable, String, Table, any_, literal
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


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
