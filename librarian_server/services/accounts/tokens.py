"""Bearer tokens: lifetimes, lineage, listing, revocation; and the auth generation counter.

Rules: no token lives longer than the site maximum; a token minted with a token
never outlives its parent (its ``parent_id`` is kept), and revoking a token revokes
every token minted from it. Anything that invalidates a credential (revoking a
token, disabling a user) bumps ``auth_state.generation`` in the same transaction;
every process's credential cache checks that one row on a hit (see ``auth``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from librarian_client.models import PermissionLevel, TokenInfo
from librarian_server.errors import NotFound
from librarian_server.orm import ApiToken, AuthState, User, utcnow
from librarian_server.services.accounts import audit
from librarian_server.services.accounts.passwords import new_token, token_digest
from librarian_server.services.core.sql import in_chunks

_STATE_ID = 1


def generation(session: Session) -> int:
    """The current auth generation (0 before anything was ever revoked)."""
    value = session.scalar(select(AuthState.generation).where(AuthState.id == _STATE_ID))
    return int(value or 0)


def bump_generation(session: Session) -> None:
    done = session.execute(
        update(AuthState)
        .where(AuthState.id == _STATE_ID)
        .values(generation=AuthState.generation + 1)
    )
    if not getattr(done, "rowcount", 0):
        session.execute(insert(AuthState).values(id=_STATE_ID, generation=1))
    session.flush()


def token_expiry(
    requested_seconds: int | None,
    *,
    max_lifetime: timedelta,
    parent_expires_at: datetime | None = None,
    now: datetime | None = None,
) -> datetime:
    """min(requested, the parent's expiry, now + the site maximum): never unbounded."""
    now = now or utcnow()
    limit = max_lifetime.total_seconds()
    # Compared as numbers, never converted: a requested 10**400 must not overflow.
    seconds = limit if requested_seconds is None or requested_seconds > limit else requested_seconds
    expires = now + timedelta(seconds=seconds)
    if parent_expires_at is not None:
        expires = min(expires, parent_expires_at)
    return expires


def create_token(
    session: Session,
    user_id: int,
    *,
    expires_in_seconds: int | None,
    max_lifetime: timedelta,
    description: str = "",
    parent_id: int | None = None,
    parent_expires_at: datetime | None = None,
) -> tuple[str, ApiToken]:
    token = new_token()
    row = ApiToken(
        user_id=user_id,
        token_hash=token_digest(token),
        description=description,
        parent_id=parent_id,
        expires_at=token_expiry(
            expires_in_seconds, max_lifetime=max_lifetime, parent_expires_at=parent_expires_at
        ),
    )
    session.add(row)
    session.flush()
    return token, row


def list_tokens(session: Session, *, user_id: int | None) -> list[TokenInfo]:
    """Live tokens (not expired) of one user, or of everyone when ``user_id`` is None."""
    query = (
        select(ApiToken, User.name)
        .join(User, ApiToken.user_id == User.id)
        .where((ApiToken.expires_at.is_(None)) | (ApiToken.expires_at > utcnow()))
        .order_by(ApiToken.id)
    )
    if user_id is not None:
        query = query.where(ApiToken.user_id == user_id)
    return [
        TokenInfo(
            id=row.id,
            user=name,
            description=row.description,
            created_time=row.created_time,
            expires_at=row.expires_at,
            parent_id=row.parent_id,
        )
        for row, name in session.execute(query)
    ]


def revoke_token(
    session: Session,
    token_id: int,
    *,
    user_id: int,
    permission: PermissionLevel,
    actor: str,
) -> list[int]:
    """Delete the token and all its descendants; the ids removed, the token's first.

    An admin revoking someone else's token is an admin action: it is audited as ``actor``.
    """
    row = session.get(ApiToken, token_id)
    if row is None or (row.user_id != user_id and permission is not PermissionLevel.ADMIN):
        raise NotFound(
            f"You have no token with id {token_id}.", "`librarian token list` shows your tokens."
        )
    owner = row.user_id
    revoked = [row.id]
    frontier = [row.id]
    while frontier:
        children = select(ApiToken.id).where(ApiToken.parent_id.in_(frontier))
        frontier = list(session.scalars(children))
        revoked += frontier
    # Children first, so the delete never depends on the database cascading the parent key.
    for chunk in in_chunks(reversed(revoked)):
        session.execute(delete(ApiToken).where(ApiToken.id.in_(chunk)))
    bump_generation(session)
    if owner != user_id:
        subject = session.scalar(select(User.name).where(User.id == owner)) or str(owner)
        detail = {"token_id": token_id, "revoked": revoked}
        audit.record(session, audit.TOKEN_REVOKED, actor=actor, subject=subject, detail=detail)
    return revoked


def set_user_disabled(session: Session, name: str, disabled: bool) -> User:
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        raise NotFound(f"There is no user {name!r}.", "Check the name.")
    user.disabled = disabled
    bump_generation(session)
    return user
