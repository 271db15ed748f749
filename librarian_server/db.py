"""Engine and session factory; SQLite gets WAL and case-sensitive LIKE like PostgreSQL.

Acknowledged means durable on both databases: SQLite runs WAL with
``synchronous=FULL`` (with NORMAL a power cut may roll back a committed
transaction whose bytes were already fsynced, and start-up clean-up would then
delete an acknowledged upload), and every PostgreSQL session sets
``synchronous_commit=on`` whatever the server's default.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from librarian_server.settings import ServerSettings


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    # Same semantics as PostgreSQL, and lets SQLite use the name index for prefixes.
    cursor.execute("PRAGMA case_sensitive_like=ON")
    cursor.close()


def make_engine(settings: ServerSettings) -> Engine:
    url = settings.sqlalchemy_url
    if url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            echo=settings.database_echo,
            connect_args={"check_same_thread": False, "timeout": 30},
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(
        url,
        echo=settings.database_echo,
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=20,
        # Set at connect, outside any transaction, so no rollback can undo it.
        connect_args={"options": "-c synchronous_commit=on"},
    )


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
