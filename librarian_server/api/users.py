"""Accounts (admins), your own password (anyone), and the audit log of admin actions."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request

from librarian_client.models import (
    MAX_AUDIT_PAGE,
    MAX_ID,
    AuditPage,
    ErrorResponse,
    PasswordChange,
    PasswordChanged,
    UserCreate,
    UserDeleted,
    UserList,
    UserRead,
    UserUpdate,
)
from librarian_server.api.deps import (
    Admin,
    Authenticated,
    SessionDep,
    SessionFactoryDep,
    SettingsDep,
)
from librarian_server.services.accounts import audit, throttle, users

router = APIRouter(tags=["users"])

UserPath = Annotated[str, Path(min_length=1, max_length=128, description="A user's name.")]


def _conflict(description: str) -> dict[int | str, dict[str, Any]]:
    return {409: {"model": ErrorResponse, "description": description}}


@router.get("/users", response_model=UserList)
def list_users(session: SessionDep, _: Admin) -> UserList:
    return UserList(users=users.list_users(session))


@router.post(
    "/users",
    response_model=UserRead,
    status_code=201,
    responses=_conflict("A user of that name exists."),
)
def create_user(body: UserCreate, session: SessionDep, admin: Admin) -> UserRead:
    """The password is only hashed: never stored, logged or sent back."""
    return users.create(session, body.name, body.password, body.permission, actor=admin.name)


@router.patch(
    "/users/{name}",
    response_model=UserRead,
    responses=_conflict("It would leave no enabled administrator."),
)
def update_user(name: UserPath, body: UserUpdate, session: SessionDep, admin: Admin) -> UserRead:
    """Disabling or lowering a level takes effect on the user's next request, everywhere."""
    return users.update_user(session, name, body, actor=admin.name)


@router.delete(
    "/users/{name}",
    response_model=UserDeleted,
    responses=_conflict("A peer site uses the account, or it is the last enabled admin."),
)
def delete_user(name: UserPath, session: SessionDep, admin: Admin) -> UserDeleted:
    """Deletes the account and its tokens; the files it uploaded stay."""
    return users.delete_user(session, name, actor=admin.name)


@router.put("/users/me/password", response_model=PasswordChanged)
def change_password(
    body: PasswordChange,
    request: Request,
    factory: SessionFactoryDep,
    settings: SettingsDep,
    user: Authenticated,
) -> PasswordChanged:
    """A wrong current password is 403 and counts as a failed login; your other tokens
    stay valid unless ``revoke_tokens`` (the one this request came with always does)."""
    return users.change_own_password(
        factory,
        user,
        body,
        address=request.client.host if request.client else None,
        policy=throttle.ThrottlePolicy.from_settings(settings),
    )


@router.get("/audit", response_model=AuditPage)
def list_audit(
    session: SessionDep,
    _: Admin,
    after: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="The last id of the previous page.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_AUDIT_PAGE)] = 100,
) -> AuditPage:
    """Administrators' actions on accounts and tokens, newest first."""
    return audit.page(session, after=after, limit=limit)
