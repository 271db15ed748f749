"""Acknowledged means durable: the settings that make a commit survive a power cut."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import make_url, text

from librarian_server.db import make_engine
from librarian_server.settings import ServerSettings
from tests import pg


def test_live_connections_commit_durably(make_settings: Callable[..., ServerSettings]) -> None:
    settings = make_settings()
    if settings.database_url is not None:
        # Even a database whose default is asynchronous commit gets synchronous commits.
        name = make_url(settings.sqlalchemy_url).database
        with pg._admin_connect() as admin:
            admin.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    engine = make_engine(settings)
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                assert conn.scalar(text("PRAGMA journal_mode")) == "wal"
                assert conn.scalar(text("PRAGMA synchronous")) == 2  # FULL
            else:
                assert conn.scalar(text("SHOW synchronous_commit")) == "on"
                conn.rollback()
                # and it holds for a connection the pool hands out again
                assert conn.scalar(text("SHOW synchronous_commit")) == "on"
    finally:
        engine.dispose()
