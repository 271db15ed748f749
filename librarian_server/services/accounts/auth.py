"""Authentication (Basic or bearer) with a cache, and permission checks.

The KDF costs tens of milliseconds by design, so a verified username/password
pair is remembered (keyed by a SHA-256 of the pair, never the password itself)
for ``auth_cache_seconds``. Each cached entry carries the auth generation (see
``tokens.generation``) it was verified under; a hit is served only while the
database's generation is unchanged, so a revoked token or a disabled user stops
working in every process on its next request, not when the cache expires.
Failed password logins are counted (``throttle``) and a locked-out login is refused
before the password is checked.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from librarian_client.models import PermissionLevel
from librarian_server.errors import (
    AuthenticationRequired,
    Conflict,
    InvalidRequest,
    NotFound,
    PermissionDenied,
)
from librarian_server.orm import ApiToken, User, utcnow
from librarian_server.services.accounts import throttle
from librarian_server.services.accounts.passwords import (
    hash_password,
    token_digest,
    verify_password,
)
from librarian_server.services.accounts.tokens import bump_generation, create_token, generation

__all__ = [
    "AuthenticatedUser",
    "Authenticator",
    "allows",
    "check_permission",
    "count_users",
    "create_token",
    "create_user",
]


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
    # Set when the request came with a bearer token: tokens it mints are capped by it.
    token_id: int | None = None
    token_expires_at: datetime | None = None

    @property
    def is_admin(self) -> bool:
        return self.permission is PermissionLevel.ADMIN


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


def _disabled(name: str) -> AuthenticationRequired:
    return AuthenticationRequired(
        f"The account {name!r} is disabled.", "Ask an administrator to enable it."
    )


@dataclass
class _Entry:
    user: AuthenticatedUser
    expires: float  # time.monotonic()
    generation: int
    password_hash: str | None = None  # Basic entries: to re-check without the KDF


class Authenticator:
    def __init__(self, cache_seconds: float) -> None:
        self.cache_seconds = cache_seconds
        self._cache: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def _entry(self, session: Session, key: str) -> tuple[_Entry | None, int]:
        """The live cache entry for ``key`` (None if absent or expired) and the generation."""
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and hit.expires < time.monotonic():
                del self._cache[key]
                hit = None
        return hit, generation(session)

    def _forget(self, key: str) -> None:
        with self._lock:
            self._cache.pop(key, None)

    def _remember(self, key: str, entry: _Entry, ttl: float) -> None:
        if ttl <= 0:
            return
        entry.expires = time.monotonic() + ttl
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[key] = entry

    def _revalidate(self, session: Session, key: str, hit: _Entry, gen: int) -> AuthenticatedUser:
        """After a generation change: the pair was verified, so re-read the account only.

        Without this, every revocation anywhere would make every Basic client of every
        process pay the KDF again at once; a disabled account is refused here at once.
        """
        user = session.get(User, hit.user.id)
        if user is None or user.password_hash != hit.password_hash:
            self._forget(key)
            raise LookupError  # the caller verifies from scratch
        if user.disabled:
            self._forget(key)
            raise _disabled(user.name)
        hit.user = AuthenticatedUser(user.id, user.name, user.permission)
        hit.generation = gen
        return hit.user

    def basic(
        self,
        session: Session,
        username: str,
        password: str,
        *,
        address: str | None = None,
        policy: throttle.ThrottlePolicy | None = None,
    ) -> AuthenticatedUser:
        """Verify a password login; with ``policy``, refuse locked-out ones and count failures.

        The lock-out is checked before the cache: otherwise a guesser could test
        passwords against the cached pair of a user it had locked out.
        """
        login_keys = throttle.keys(username, address)
        if policy is not None:
            throttle.check(session, login_keys)
        key = "b:" + hashlib.sha256(f"{username}\0{password}".encode()).hexdigest()
        hit, gen = self._entry(session, key)
        if hit is not None:
            if hit.generation == gen:
                return hit.user
            try:
                return self._revalidate(session, key, hit, gen)
            except LookupError:
                pass
        user = session.scalar(select(User).where(User.name == username))
        # An unknown name costs the same KDF as a wrong password: timing reveals no names.
        encoded = user.password_hash if user is not None else _dummy_hash()
        if not verify_password(password, encoded) or user is None:
            if policy is not None:
                throttle.record_failure(session, login_keys, policy)
            raise AuthenticationRequired(
                "Unknown user or wrong password.", "Check the username and password."
            )
        if user.disabled:
            raise _disabled(user.name)
        if policy is not None:
            throttle.forget_user(session, username)
        found = AuthenticatedUser(user.id, user.name, user.permission)
        self._remember(key, _Entry(found, 0.0, gen, user.password_hash), self.cache_seconds)
        return found

    def bearer(self, session: Session, token: str) -> AuthenticatedUser:
        digest = token_digest(token)
        key = "t:" + digest
        hit, gen = self._entry(session, key)
        if hit is not None and hit.generation == gen:
            return hit.user
        row = session.execute(
            select(ApiToken, User)
            .join(User, ApiToken.user_id == User.id)
            .where(ApiToken.token_hash == digest)
        ).first()
        now = utcnow()
        if row is None or (row[0].expires_at is not None and row[0].expires_at <= now):
            raise AuthenticationRequired(
                "The bearer token is unknown, revoked or expired.",
                "Create a new token with `librarian token create`.",
            )
        token_row, user = row
        if user.disabled:
            raise _disabled(user.name)
        found = AuthenticatedUser(
            user.id, user.name, user.permission, token_row.id, token_row.expires_at
        )
        ttl = self.cache_seconds
        if token_row.expires_at is not None:
            ttl = min(ttl, (token_row.expires_at - now).total_seconds())
        self._remember(key, _Entry(found, 0.0, gen), ttl)
        return found


def check_password_strength(password: str) -> None:
    """Refuse (400) a password too short to resist guessing."""
    if len(password) < 8:
        raise InvalidRequest("The password is too short.", "Use at least 8 characters.")


def create_user(session: Session, name: str, password: str, permission: PermissionLevel) -> User:
    if not name or len(name) > 128 or any(not (c.isalnum() or c in "._-@") for c in name):
        raise InvalidRequest(
            f"User name {name!r} is not valid.", "Use letters, digits and . _ - @ only."
        )
    check_password_strength(password)
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
    """A new password; tokens already issued stay valid. The auth generation moves, so
    every running process stops accepting the old password within a second."""
    check_password_strength(password)
    user = require_user(session, name)
    user.password_hash = hash_password(password)
    bump_generation(session)
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


def count_users(session: Session) -> int:
    return len(session.scalars(select(User.id).limit(1)).all())
