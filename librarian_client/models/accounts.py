"""Accounts as an administrator sees them, password changes, and the audit log.

Passwords travel only in request bodies: no answer carries one back, and the
fields are left out of ``repr`` so that a logged request model does not show them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import Field, model_validator

from librarian_client.models.common import PermissionLevel, WireModel

MAX_PASSWORD = 1024
"""Longer passwords are refused (400) before the KDF spends time on them."""
MAX_AUDIT_PAGE = 1000

UserName = Annotated[
    str, Field(min_length=1, max_length=128, description="Letters, digits and . _ - @.")
]
Password = Annotated[str, Field(min_length=1, max_length=MAX_PASSWORD, repr=False)]


class UserRead(WireModel):
    name: str
    permission: PermissionLevel
    disabled: bool
    created_time: datetime
    live_tokens: int = Field(ge=0, description="Bearer tokens that have not expired.")
    last_token_created: datetime | None = Field(
        default=None,
        description="When the user's newest live token was made (how `librarian "
        "connections add` logs in); no per-login record is kept.",
    )


class UserList(WireModel):
    users: list[UserRead]


class UserCreate(WireModel):
    name: UserName
    permission: PermissionLevel
    password: Password


class UserUpdate(WireModel):
    """Only the fields given change; at least one must be."""

    permission: PermissionLevel | None = None
    disabled: bool | None = None

    @model_validator(mode="after")
    def _something(self) -> UserUpdate:
        if self.permission is None and self.disabled is None:
            raise ValueError("give permission, disabled or both")
        return self


class UserDeleted(WireModel):
    name: str
    tokens_revoked: int = Field(ge=0)


class PasswordChange(WireModel):
    current_password: Password
    new_password: Password
    revoke_tokens: bool = Field(
        default=False,
        description="Also revoke every token of yours but the one this request came with.",
    )


class PasswordChanged(WireModel):
    user: str
    tokens_revoked: int = Field(ge=0)


class AuditEvent(WireModel):
    """One administrator's action: who (actor) did what (kind) to which account (subject)."""

    id: int
    time: datetime
    kind: str
    actor: str
    subject: str
    detail: dict[str, Any] = Field(default_factory=dict)


class AuditPage(WireModel):
    events: list[AuditEvent] = Field(description="Newest first.")
    next_after: int | None = Field(
        default=None, description="Pass as ``after`` for the next (older) page; None at the end."
    )
