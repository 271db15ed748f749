"""Running Alembic from the server (``librarian-server migrate`` and the embedded start)."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config

from alembic import command
from librarian_server.errors import ConfigurationError
from librarian_server.settings import ServerSettings

_ROOT = Path(__file__).resolve().parent.parent


def alembic_config(settings: ServerSettings) -> Config:
    ini = _ROOT / "alembic.ini"
    if not ini.is_file():
        raise FileNotFoundError(
            f"{ini} not found: install Librarian from its source tree (pip install -e .)"
        )
    config = Config(str(ini))
    config.set_main_option("sqlalchemy.url", settings.sqlalchemy_url.replace("%", "%%"))
    return config


def upgrade(settings: ServerSettings, revision: str = "head") -> None:
    if settings.is_embedded:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(settings), revision)


def downgrade(settings: ServerSettings, revision: str) -> None:
    command.downgrade(alembic_config(settings), revision)


def current_revision(settings: ServerSettings) -> str | None:
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import create_engine

    engine = create_engine(settings.sqlalchemy_url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def head_revision(settings: ServerSettings) -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(settings)).get_current_head()


def check_at_head(settings: ServerSettings) -> None:
    current, head = current_revision(settings), head_revision(settings)
    if current != head:
        raise ConfigurationError(
            f"The database schema is at {current or 'nothing'}, this server needs {head}.",
            "Run `librarian-server migrate` first.",
        )
