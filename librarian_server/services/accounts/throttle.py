"""Failed-login throttling, kept in the database so every API process sees the same counts.

Each failed password login counts against two keys, the user name and the client
address. Once a key has ``max_failures`` recent failures it is locked for
``lockout`` seconds, doubled by every further failure up to ``lockout_max``; while
either key of a login is locked the password is not even checked (no scrypt), so a
guesser costs the server one indexed query. Failures older than ``window`` are
forgotten, and a successful login clears its user's count (not its address's: one
valid account must not reset the count of an address that guesses at others).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from librarian_server.errors import TooManyAttempts
from librarian_server.orm import LoginFailure, utcnow
from librarian_server.settings import ServerSettings


@dataclass(frozen=True)
class ThrottlePolicy:
    max_failures: int
    lockout_seconds: float
    lockout_max_seconds: float
    window_seconds: float

    @classmethod
    def from_settings(cls, settings: ServerSettings) -> ThrottlePolicy:
        return cls(
            settings.login_max_failures,
            settings.login_lockout_seconds,
            settings.login_lockout_max_seconds,
            settings.login_failure_window_seconds,
        )

    def lockout(self, failures: int) -> float:
        """0 below the threshold, then lockout_seconds doubled per extra failure (capped)."""
        extra = failures - self.max_failures
        if extra < 0:
            return 0.0
        return min(self.lockout_max_seconds, self.lockout_seconds * 2.0 ** min(extra, 30))


def keys(username: str, address: str | None) -> list[str]:
    found = ["user:" + username[:190]]
    if address:
        found.append("addr:" + address[:190])
    return found


def check(session: Session, login_keys: list[str], *, now: datetime | None = None) -> None:
    """Raise TooManyAttempts when any of the keys is locked now."""
    now = now or utcnow()
    rows = session.execute(
        select(LoginFailure.key, LoginFailure.locked_until).where(
            LoginFailure.key.in_(login_keys), LoginFailure.locked_until > now
        )
    ).all()
    locks = [(until, key) for key, until in rows if until is not None]
    if not locks:
        return
    until, key = max(locks)
    what = "this user" if key.startswith("user:") else "this client address"
    raise TooManyAttempts(math.ceil((until - now).total_seconds()), what)


def _upsert(session: Session, key: str, now: datetime, window_start: datetime) -> int:
    """Count one failure for ``key`` atomically (concurrent processes add, never overwrite)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    values = insert(LoginFailure).values(key=key, failures=1, last_failure=now, locked_until=None)
    table = LoginFailure.__table__
    stmt = values.on_conflict_do_update(
        index_elements=[table.c.key],
        set_={
            "failures": case((table.c.last_failure < window_start, 1), else_=table.c.failures + 1),
            "last_failure": now,
        },
    ).returning(table.c.failures)
    failures: int = session.execute(stmt).scalar_one()
    return failures


def record_failure(
    session: Session, login_keys: list[str], policy: ThrottlePolicy, *, now: datetime | None = None
) -> None:
    now = now or utcnow()
    window_start = now - timedelta(seconds=policy.window_seconds)
    for key in login_keys:
        failures = _upsert(session, key, now, window_start)
        if (lock := policy.lockout(failures)) > 0:
            session.execute(
                update(LoginFailure)
                .where(LoginFailure.key == key)
                .values(locked_until=now + timedelta(seconds=lock))
            )
    # Old rows go on the failure path, so a spray of names cannot grow the table forever.
    stale = now - timedelta(seconds=policy.window_seconds + policy.lockout_max_seconds)
    session.execute(delete(LoginFailure).where(LoginFailure.last_failure < stale))
    session.flush()


def forget_user(session: Session, username: str) -> None:
    session.execute(delete(LoginFailure).where(LoginFailure.key == keys(username, None)[0]))
