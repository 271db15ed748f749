"""Portable SQL the ORM does not spell: inserts that skip rows a unique index refuses."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, CursorResult, Executable, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

_ROWS_PER_STATEMENT = 500


def insert_ignoring_conflicts(
    session: Session,
    table: Table,
    rows: list[dict[str, Any]],
    *,
    returning: ColumnElement[Any] | None = None,
) -> list[Any]:
    """INSERT ... ON CONFLICT DO NOTHING; returns ``returning`` of the rows inserted.

    The unique indexes decide what is a duplicate, so two processes racing to
    insert the same rows end with one copy each and each learns which are its own.
    """
    if not rows:
        return []
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    statement = module.insert(table).on_conflict_do_nothing()
    if returning is None:
        session.execute(statement, rows)
        return []
    # Multi-row VALUES with RETURNING (PostgreSQL, SQLite >= 3.35), in chunks that stay
    # under SQLite's limit on bound parameters.
    out: list[Any] = []
    for start in range(0, len(rows), _ROWS_PER_STATEMENT):
        chunk = rows[start : start + _ROWS_PER_STATEMENT]
        out.extend(session.scalars(statement.values(chunk).returning(returning)))
    return out


def execute_count(session: Session, statement: Executable) -> int:
    """Run an UPDATE or DELETE and return how many rows it touched."""
    result = session.execute(statement)
    return int(result.rowcount or 0) if isinstance(result, CursorResult) else 0
