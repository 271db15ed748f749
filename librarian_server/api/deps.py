"""Typed dependencies: settings, sessions, the current user and permission checks."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker

from librarian_client.models import PermissionLevel

from ..background import Runner
from ..errors import AuthenticationRequired
from ..services.auth import AuthenticatedUser, Authenticator, check_permission
from ..settings import ServerSettings


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


def _credentials(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    scheme = scheme.lower()
    if scheme == "bearer" and value.strip():
        return "bearer", value.strip()
    if scheme == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise AuthenticationRequired("Malformed Basic credentials.") from None
        if ":" in decoded:
            return "basic", decoded
    raise AuthenticationRequired("Unsupported Authorization header.")


def optional_user(request: Request) -> AuthenticatedUser | None:
    """The authenticated user, or None when no credentials were sent (bad ones: 401)."""
    creds = _credentials(request)
    if creds is None:
        return None
    authenticator: Authenticator = request.app.state.authenticator
    with get_session_factory(request)() as session:
        if creds[0] == "bearer":
            return authenticator.bearer(session, creds[1])
        username, _, password = creds[1].partition(":")
        return authenticator.basic(session, username, password)


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
