"""An in-process server (ASGI, real database, real files) with three users.

Set-up is a copy, not a build: the catalogue is migrated and its users made once per
session into a template (a SQLite file; a PostgreSQL template database), and each test
starts from a copy of it, with a store that makes its bucket directories as it needs them.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from librarian_client.models import PermissionLevel
from librarian_server import migrate
from librarian_server.app import create_app
from librarian_server.db import make_engine, make_session_factory
from librarian_server.services.accounts.auth import create_user
from librarian_server.services.site.maintenance import ensure_default_store
from librarian_server.settings import ServerSettings, load_settings
from tests import pg

if TYPE_CHECKING:
    from librarian_client import LibrarianClient

PASSWORD = "correct horse battery"
USERS = {
    "admin": PermissionLevel.ADMIN,
    "writer": PermissionLevel.READAPPEND,
    "reader": PermissionLevel.READONLY,
}


@dataclass
class Site:
    settings: ServerSettings
    http: TestClient
    factory: sessionmaker[Session]

    def auth(self, user: str = "writer") -> tuple[str, str]:
        return (user, PASSWORD)

    def client(self, user: str = "writer") -> LibrarianClient:
        """The real client library, routed into the in-process app."""
        from librarian_client import LibrarianClient

        transport: httpx.BaseTransport = self.http._transport
        return LibrarianClient("http://testserver", user, PASSWORD, transport=transport)

    def session(self) -> Session:
        return self.factory()


def _fill_template(settings: ServerSettings) -> None:
    migrate.upgrade(settings)
    engine = make_engine(settings)
    try:
        with make_session_factory(engine).begin() as session:
            for name, level in USERS.items():
                create_user(session, name, PASSWORD, level)
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite catalogue with the users, checkpointed into its one file."""
    settings = load_settings(
        data_dir=tmp_path_factory.mktemp("sqlite-template"), write_client_config=False
    )
    _fill_template(settings)
    path = settings.data_dir / "librarian.sqlite3"
    # The last connection's close checkpoints the WAL into the file and removes it.
    assert not path.with_name(path.name + "-wal").exists(), "the template is not one file"
    return path


@pytest.fixture(scope="session")
def postgres_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated PostgreSQL database with the users, copied by CREATE DATABASE … TEMPLATE."""
    with pg.temporary_database() as url:
        settings = load_settings(
            data_dir=tmp_path_factory.mktemp("postgres-template"),
            database_url=url,
            write_client_config=False,
        )
        _fill_template(settings)
        yield pg.database_name(url)


@pytest.fixture
def make_site(
    make_settings: Callable[..., ServerSettings], request: pytest.FixtureRequest
) -> Iterator[Callable[..., Site]]:
    engines: list[Any] = []
    clients: list[TestClient] = []
    templated: set[str] = set()

    def factory(*, peer_transport: httpx.BaseTransport | None = None, **overrides: Any) -> Site:
        # Background tasks run when a test asks (the run-now endpoint), not on a timer.
        overrides.setdefault("background", {"in_server": False})
        overrides.setdefault("default_store_buckets", "on-first-use")
        settings = make_settings(**overrides)
        if settings.is_embedded:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            target = settings.data_dir / "librarian.sqlite3"
            if not target.exists():
                shutil.copyfile(request.getfixturevalue("sqlite_template"), target)
        elif settings.database_url is not None:
            url = settings.database_url.get_secret_value()
            if url not in templated:  # the test's fresh, empty database becomes the copy
                pg.recreate_from_template(url, request.getfixturevalue("postgres_template"))
                templated.add(url)
        engine = make_engine(settings)
        engines.append(engine)
        session_factory = make_session_factory(engine)
        with session_factory.begin() as session:
            ensure_default_store(session, settings)
        http = TestClient(create_app(settings, peer_transport=peer_transport))
        http.__enter__()
        clients.append(http)
        return Site(settings, http, session_factory)

    yield factory
    for http in clients:
        http.__exit__(None, None, None)
    for engine in engines:
        engine.dispose()


@pytest.fixture
def site(make_site: Callable[..., Site]) -> Site:
    return make_site()
