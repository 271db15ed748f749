"""Throw-away PostgreSQL databases for tests: one unique database per use, dropped after."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest

SERVER_URL = os.environ.get("LIBRARIAN_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
REQUIRED = os.environ.get("LIBRARIAN_REQUIRE_POSTGRES") == "1"


def _admin_connect() -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(f"{SERVER_URL}/postgres", autocommit=True, connect_timeout=5)


def available() -> bool:
    try:
        with _admin_connect():
            return True
    except psycopg.OperationalError:
        return False


def _require() -> None:
    if not available():
        message = f"PostgreSQL is not reachable at {SERVER_URL}"
        if REQUIRED:
            pytest.fail(message + " (LIBRARIAN_REQUIRE_POSTGRES=1)")
        pytest.skip(message)


@contextmanager
def temporary_database(template: str | None = None) -> Iterator[str]:
    """A fresh database (a copy of ``template`` when given), dropped afterwards."""
    _require()
    name = f"librarian_test_{uuid.uuid4().hex[:12]}"
    with _admin_connect() as conn:
        copy = f' TEMPLATE "{template}"' if template else ""
        conn.execute(f'CREATE DATABASE "{name}"{copy}')
    try:
        yield f"{SERVER_URL}/{name}"
    finally:
        with _admin_connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def database_name(url: str) -> str:
    return url.rsplit("/", 1)[1]


def recreate_from_template(url: str, template: str) -> None:
    """Make the (empty, unused) database at ``url`` a fresh copy of ``template``."""
    name = database_name(url)
    with _admin_connect() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
