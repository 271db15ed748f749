"""Administering accounts: list, create, change level or state, delete; own passwords.

Every change that takes a credential away (disabling, lowering a level, deleting,
a new password) bumps the auth generation in its transaction, so no process serves
the old credential from its cache after the commit. The site always keeps one
enabled administrator: the rows of the enabled admins are locked (in id order)
before one of them is changed, so two admins demoting each other at once cannot
both succeed. Each action is recorded in the audit log (``audit``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, delete, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from librarian_client.models import (
    PasswordChange,
    PasswordChanged,
    PermissionLevel,
    UserDeleted,
    UserRead,
    UserUpdate,
)
from librarian_server.errors import AccountInUse, LastAdmin, NotFound, PermissionDenied
from librarian_server.orm import ApiToken, Peer, User, utcnow
from librarian_server.services.accounts import audit, throttle
from librarian_server.services.accounts.auth import (
    AuthenticatedUser,
    check_password_strength,
    create_user,
    require_user,
    set_password,
)
from librarian_server.services.accounts.passwords import verify_password
from librarian_server.services.accounts.tokens import bump_generation, set_user_disabled
from librarian_server.services.core.sql import execute_count, lock_rows

ADMIN = PermissionLevel.ADMIN


def _reads(session: Session, *where: ColumnElement[bool]) -> list[UserRead]:
    now = utcnow()
    live = or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > now)
    stats = (
        select(
            ApiToken.user_id,
            func.count(ApiToken.id).label("live"),
            func.max(ApiToken.created_time).label("newest"),
        )
        .where(live)
        .group_by(ApiToken.user_id)
        .subquery()
    )
    query = (
        select(User, stats.c.live, stats.c.newest)
        .outerjoin(stats, stats.c.user_id == User.id)
        .where(*where)
        .order_by(User.name)
    )
    return [
        UserRead(
            name=user.name,
            permission=user.permission,
            disabled=user.disabled,
            created_time=user.created_time,
            live_tokens=int(count or 0),
            last_token_created=newest,
        )
        for user, count, newest in session.execute(query)
    ]


def list_users(session: Session) -> list[UserRead]:
    """Every account by name, with its live tokens."""
    return _reads(session)


def _read(session: Session, user: User) -> UserRead:
    session.flush()
    return _reads(session, User.id == user.id)[0]


def create(
    session: Session, name: str, password: str, permission: PermissionLevel, *, actor: str
) -> UserRead:
    user = create_user(session, name, password, permission)
    audit.record(
        session,
        audit.USER_CREATED,
        actor=actor,
        subject=user.name,
        detail={"permission": user.permission.value},
    )
    return _read(session, user)


def _locked(session: Session, name: str) -> User:
    """The user, its row and every enabled admin's row locked, in id order (no deadlock)."""
    user_id = session.scalar(select(User.id).where(User.name == name))
    if user_id is not None:
        enabled_admin = and_(User.permission == ADMIN, User.disabled.is_(False))
        lock_rows(session, User.id, or_(User.id == user_id, enabled_admin), skip_locked=False)
        fresh = select(User).where(User.id == user_id).execution_options(populate_existing=True)
        user = session.scalar(fresh)
        if user is not None:
            return user
    raise NotFound(f"There is no user {name!r}.", "`librarian users` lists the accounts.")


def _keep_an_admin(session: Session, user: User, *, stays_admin: bool) -> None:
    """Refuse to take away the last enabled admin (the rows are locked by ``_locked``)."""
    if user.permission is not ADMIN or user.disabled or stays_admin:
        return
    others = select(User.id).where(
        User.permission == ADMIN, User.disabled.is_(False), User.id != user.id
    )
    if session.scalar(others.limit(1)) is None:
        raise LastAdmin(
            f"{user.name!r} is the last enabled administrator of this site.",
            "Make another user an admin first (`librarian users update NAME --level admin`).",
        )


def _state(user: User) -> dict[str, Any]:
    return {"permission": user.permission.value, "disabled": user.disabled}


def update_user(session: Session, name: str, change: UserUpdate, *, actor: str) -> UserRead:
    """Set the level and/or disabled flag; changing either drops cached credentials."""
    user = _locked(session, name)
    permission = change.permission or user.permission
    disabled = user.disabled if change.disabled is None else change.disabled
    _keep_an_admin(session, user, stays_admin=permission is ADMIN and not disabled)
    before = _state(user)
    user.permission, user.disabled = permission, disabled
    diff = audit.changes(before, _state(user))
    if diff:
        bump_generation(session)
        audit.record(session, audit.USER_UPDATED, actor=actor, subject=user.name, detail=diff)
    return _read(session, user)


def delete_user(session: Session, name: str, *, actor: str) -> UserDeleted:
    """Delete the account and its tokens; files it uploaded keep its name as uploader."""
    user = _locked(session, name)
    if session.scalar(select(Peer.id).where(Peer.name == user.name)) is not None:
        raise AccountInUse(
            f"The peer site {user.name!r} signs in to this site as {user.name!r}.",
            f"Remove the peer first (`librarian-server remove-peer {user.name}`), "
            "or disable the account instead.",
        )
    _keep_an_admin(session, user, stays_admin=False)
    detail = {"permission": user.permission.value}
    tokens = execute_count(session, delete(ApiToken).where(ApiToken.user_id == user.id))
    throttle.forget_user(session, user.name)
    session.delete(user)
    bump_generation(session)
    audit.record(
        session,
        audit.USER_DELETED,
        actor=actor,
        subject=name,
        detail={**detail, "tokens_revoked": tokens},
    )
    session.flush()
    return UserDeleted(name=name, tokens_revoked=tokens)


def reset_password(session: Session, name: str, password: str, *, actor: str) -> User:
    """An administrator's reset (``librarian-server set-password``); tokens stay valid."""
    user = set_password(session, name, password)
    audit.record(session, audit.PASSWORD_CHANGED, actor=actor, subject=user.name)
    return user


def set_disabled(session: Session, name: str, disabled: bool, *, actor: str) -> User:
    """``librarian-server disable-user``/``enable-user``: the operator's way back in, so
    it does not apply the last-admin rule (it needs database access, not an account)."""
    before = require_user(session, name).disabled
    user = set_user_disabled(session, name, disabled)
    if before != disabled:
        detail = {"disabled": {"old": before, "new": disabled}}
        audit.record(session, audit.USER_UPDATED, actor=actor, subject=name, detail=detail)
    return user


def _revoke_all_but(session: Session, user_id: int, keep: int | None) -> int:
    """Delete the user's tokens except ``keep``, which loses its parent link first (the
    parent may be among those deleted, and a cascade would take ``keep`` with it)."""
    mine = ApiToken.user_id == user_id
    if keep is None:
        return execute_count(session, delete(ApiToken).where(mine))
    session.execute(update(ApiToken).where(ApiToken.id == keep).values(parent_id=None))
    return execute_count(session, delete(ApiToken).where(mine, ApiToken.id != keep))


def change_own_password(
    factory: sessionmaker[Session],
    user: AuthenticatedUser,
    change: PasswordChange,
    *,
    address: str | None,
    policy: throttle.ThrottlePolicy,
) -> PasswordChanged:
    """Check the current password like a login (locked-out: refused unchecked; wrong:
    counted), then set the new one. In a session of its own: a wrong password's failure
    count must be committed although the request is refused."""
    check_password_strength(change.new_password)
    login_keys = throttle.keys(user.name, address)
    with factory() as session:
        throttle.check(session, login_keys)
        row = session.get(User, user.id)
        if row is None or not verify_password(change.current_password, row.password_hash):
            throttle.record_failure(session, login_keys, policy)
            session.commit()
            raise PermissionDenied(
                "The current password is wrong.",
                "Give your current password; failed attempts count towards a lock-out.",
            )
        set_password(session, row.name, change.new_password)
        throttle.forget_user(session, row.name)
        revoked = _revoke_all_but(session, row.id, user.token_id) if change.revoke_tokens else 0
        audit.record(
            session,
            audit.PASSWORD_CHANGED,
            actor=row.name,
            subject=row.name,
            detail={"tokens_revoked": revoked},
        )
        session.commit()
        return PasswordChanged(user=row.name, tokens_revoked=revoked)
