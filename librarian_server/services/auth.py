"""Authentication (Basic or bearer) with a cache, and permission checks.

The KDF costs tens of milliseconds by design, so a verified username/password
pair is remembered (keyed by a SHA-256 of the pair, never the password itself)
for ``auth_cache_seconds``; afterwards an authenticated call costs a dict look-up.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from librarian_client.models import PermissionLevel

from ..errors import (
    AuthenticationRequired,
    Conflict,
    InvalidRequest,
    NotFound,
    PermissionDenied,
)
from ..orm import ApiToken, User, utcnow
from .passwords import hash_password, new_token, token_digest, verify_password


@functools.cache
def _dummy_hash() -> str:
    """Hashed on first use, not at import: the stand-in for a user that does not exist."""
    return hash_password(secrets.token_urlsafe(16))


_RANK = {
    PermissionLevel.READONLY: 0,
    PermissionLevel.READAPPEND: 1,
    PermissionLevel.ADMIN: 2,
}


@dataclass(frozen=True)
class AuthenticatedUser:
    id: int
    name: str
    permission: PermissionLevel


def allows(have: PermissionLevel, need: PermissionLevel) -> bool:
    """PEER is a side branch: it grants only what explicitly asks for PEER (and admin does)."""
    if need is PermissionLevel.PEER:
        return have in (PermissionLevel.PEER, PermissionLevel.ADMIN)
    if have is PermissionLevel.PEER:
        return False
    return _RANK[have] >= _RANK[need]


def check_permission(user: AuthenticatedUser | None, need: PermissionLevel) -> AuthenticatedUser:
    if user is None:
        raise AuthenticationRequired()
    if not allows(user.permission, need):
        raise PermissionDenied(
            f"User {user.name!r} has permission '{user.permission}', this needs '{need}'.",
        )
    return user


class Authenticator:
    def __init__(self, cache_seconds: float) -> None:
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[AuthenticatedUser, float]] = {}
        self._lock = threading.Lock()

    def _cached(self, key: str) -> AuthenticatedUser | None:
        with self._lock:
            hit = self._cache.get(key)
            if hit is None:
                return None
            if hit[1] < time.monotonic():
                del self._cache[key]
                return None
            return hit[0]

    def _remember(self, key: str, user: AuthenticatedUser, ttl: float) -> None:
        if ttl <= 0:
            return
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[key] = (user, time.monotonic() + ttl)

    def basic(self, session: Session, username: str, password: str) -> AuthenticatedUser:
        key = "b:" + hashlib.sha256(f"{username}\0{password}".encode()).hexdigest()
        if (cached := self._cached(key)) is not None:
            return cached
        user = session.scalar(select(User).where(User.name == username))
        # An unknown name costs the same KDF as a wrong password: timing reveals no names.
        encoded = user.password_hash if user is not None else _dummy_hash()
        if not verify_password(password, encoded) or user is None:
            raise AuthenticationRequired(
                "Unknown user or wrong password.", "Check the username and password."
            )
        found = AuthenticatedUser(user.id, user.name, user.permission)
        self._remember(key, found, self.cache_seconds)
        return found

    def bearer(self, session: Session, token: str) -> AuthenticatedUser:
        digest = token_digest(token)
        key = "t:" + digest
        if (cached := self._cached(key)) is not None:
            return cached
        row = session.execute(
            select(ApiToken, User)
            .join(User, ApiToken.user_id == User.id)
            .where(ApiToken.token_hash == digest)
        ).first()
        now = utcnow()
        if row is None or (row[0].expires_at is not None and row[0].expires_at <= now):
            raise AuthenticationRequired(
                "The bearer token is unknown or has expired.",
                "Create a new token with `librarian token create`.",
            )
        token_row, user = row
        found = AuthenticatedUser(user.id, user.name, user.permission)
        ttl = self.cache_seconds
        if token_row.expires_at is not None:
            ttl = min(ttl, (token_row.expires_at - now).total_seconds())
        self._remember(key, found, ttl)
        return found


def _check_password(password: str) -> None:
    if len(password) < 8:
        raise InvalidRequest("The password is too short.", "Use at least 8 characters.")


def create_user(session: Session, name: str, password: str, permission: PermissionLevel) -> User:
    if not name or len(name) > 128 or any(not (c.isalnum() or c in "._-@") for c in name):
        raise InvalidRequest(
            f"User name {name!r} is not valid.", "Use letters, digits and . _ - @ only."
        )
    _check_password(password)
    require_new_user(session, name)
    user = User(name=name, password_hash=hash_password(password), permission=permission)
    session.add(user)
    session.flush()
    return user


def require_new_user(session: Session, name: str) -> None:
    """Refuse a taken name before anyone types a password for it."""
    if session.scalar(select(User.id).where(User.name == name)) is not None:
        raise Conflict(
            f"User {name!r} already exists.",
            f"To change its password: librarian-server set-password {name}",
        )


def require_user(session: Session, name: str) -> User:
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        raise NotFound(
            f"There is no user {name!r}.",
            f"Create it: librarian-server create-user {name} --level LEVEL",
        )
    return user


def set_password(session: Session, name: str, password: str) -> User:
    """A new password; tokens already issued stay valid, and a running server may accept
    the old password until its credential cache (``auth_cache_seconds``) expires."""
    _check_password(password)
    user = require_user(session, name)
    user.password_hash = hash_password(password)
    session.flush()
    return user


def list_users(session: Session) -> list[tuple[User, int]]:
    """Every user by name, with how many unexpired bearer tokens it holds."""
    live = (ApiToken.expires_at.is_(None)) | (ApiToken.expires_at > utcnow())
    tokens = (
        select(func.count(ApiToken.id))
        .where(ApiToken.user_id == User.id, live)
        .correlate(User)
        .scalar_subquery()
    )
    rows = session.execute(select(User, tokens).order_by(User.name)).all()
    return [(user, int(count)) for user, count in rows]


def create_token(
    session: Session, user_id: int, *, expires_in: timedelta | None, description: str = ""
) -> tuple[str, ApiToken]:
    token = new_token()
    row = ApiToken(
        user_id=user_id,
        token_hash=token_digest(token),
        description=description,
        expires_at=None if expires_in is None else utcnow() + expires_in,
    )
    session.add(row)
    session.flush()
    return token, row


def count_users(session: Session) -> int:
    return len(session.scalars(select(User.id).limit(1)).all())
