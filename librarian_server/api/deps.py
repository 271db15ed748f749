"""Typed dependencies: settings, sessions, the current user and permission checks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker

from librarian_client.models import PermissionLevel
from librarian_server.api.guard import USER_KEY, authenticate, credentials
from librarian_server.background import Runner
from librarian_server.services.accounts.auth import AuthenticatedUser, check_permission
from librarian_server.settings import ServerSettings


def get_settings(request: Request) -> ServerSettings:
    settings: ServerSettings = request.app.state.settings
    return settings


def get_session_factory(request: Request) -> sessionmaker[Session]:
    factory: sessionmaker[Session] = request.app.state.session_factory
    return factory


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request: commit on success, roll back on any error.

    Used with ``scope="function"`` so that the commit happens before the response is
    sent: a client that hears "staged" or "committed" can rely on it, and a failed
    commit reaches the client as an error instead of vanishing after a 200.
    """
    with get_session_factory(request).begin() as session:
        yield session


def get_runner(request: Request) -> Runner:
    runner: Runner = request.app.state.runner
    return runner


SettingsDep = Annotated[ServerSettings, Depends(get_settings)]
RunnerDep = Annotated[Runner, Depends(get_runner)]
SessionFactoryDep = Annotated[sessionmaker[Session], Depends(get_session_factory)]
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def optional_user(request: Request) -> AuthenticatedUser | None:
    """The authenticated user, or None when no credentials were sent (bad ones: 401).

    The guard middleware has already checked the credentials before the body was
    read; without it (an app built some other way) they are checked here.
    """
    if USER_KEY in request.scope:
        found: AuthenticatedUser | None = request.scope[USER_KEY]
        return found
    creds = credentials(request.headers.get("authorization"))
    if creds is None:
        return None
    client = request.client
    return authenticate(
        request.app.state, creds, address=client.host if client else None, policy=None
    )


OptionalUser = Annotated[AuthenticatedUser | None, Depends(optional_user)]


def require(level: PermissionLevel) -> Callable[..., AuthenticatedUser]:
    """Dependency factory: the current user, who must hold at least ``level``."""

    def dependency(user: OptionalUser) -> AuthenticatedUser:
        return check_permission(user, level)

    return dependency


def reader(user: OptionalUser, settings: SettingsDep) -> AuthenticatedUser | None:
    """Readers: anyone with an account, or anonymous when the site allows it."""
    if user is None and settings.allow_anonymous_read:
        return None
    return check_permission(user, PermissionLevel.READONLY)


Authenticated = Annotated[AuthenticatedUser, Depends(require(PermissionLevel.READONLY))]
Reader = Annotated[AuthenticatedUser | None, Depends(reader)]
Writer = Annotated[AuthenticatedUser, Depends(require(PermissionLevel.READAPPEND))]
Admin = Annotated[AuthenticatedUser, Depends(require(PermissionLevel.ADMIN))]
Peer = Annotated[AuthenticatedUser, Depends(require(PermissionLevel.PEER))]
