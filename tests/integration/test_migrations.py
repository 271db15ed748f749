"""Alembic head equals the models, and the chain goes up, down and up again."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from alembic import command
from librarian_server import migrate
from librarian_server.orm import Base
from librarian_server.settings import ServerSettings


def _diff(settings: ServerSettings) -> list[object]:
    engine = create_engine(settings.sqlalchemy_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()


def _tables(settings: ServerSettings) -> set[str]:
    engine = create_engine(settings.sqlalchemy_url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_head_matches_models_and_round_trips(make_settings: Callable[..., ServerSettings]) -> None:
    settings = make_settings()
    migrate.upgrade(settings)
    assert _diff(settings) == []
    command.check(migrate.alembic_config(settings))  # raises on any pending autogenerate op
    assert _tables(settings) == set(Base.metadata.tables)
    assert migrate.current_revision(settings) == migrate.head_revision(settings)

    migrate.downgrade(settings, "base")
    assert _tables(settings) == set()
    migrate.upgrade(settings)
    assert _diff(settings) == []
    assert _tables(settings) == set(Base.metadata.tables)


def test_server_refuses_a_database_behind_head(
    make_settings: Callable[..., ServerSettings],
) -> None:
    settings = make_settings()
    if settings.is_embedded:
        return  # the embedded default migrates itself; covered by the e2e tests
    from librarian_server.errors import ConfigurationError

    with pytest.raises(ConfigurationError) as info:
        migrate.check_at_head(settings)
    assert "librarian-server migrate" in info.value.suggested_remedy
    migrate.upgrade(settings)
    migrate.check_at_head(settings)
