"""An in-process server (ASGI, real database, real files) with three users."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from librarian_client.models import PermissionLevel
from librarian_server import migrate
from librarian_server.app import create_app
from librarian_server.db import make_engine, make_session_factory
from librarian_server.services.auth import create_user
from librarian_server.services.maintenance import ensure_default_store
from librarian_server.settings import ServerSettings

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


@pytest.fixture
def make_site(make_settings: Callable[..., ServerSettings]) -> Iterator[Callable[..., Site]]:
    engines: list[Any] = []
    clients: list[TestClient] = []

    def factory(**overrides: Any) -> Site:
        # Background tasks run when a test asks (the run-now endpoint), not on a timer.
        overrides.setdefault("background", {"in_server": False})
        settings = make_settings(**overrides)
        migrate.upgrade(settings)
        engine = make_engine(settings)
        engines.append(engine)
        session_factory = make_session_factory(engine)
        with session_factory.begin() as session:
            ensure_default_store(session, settings)
            for name, level in USERS.items():
                create_user(session, name, PASSWORD, level)
        http = TestClient(create_app(settings))
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
