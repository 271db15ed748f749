"""Accounts: administering users, changing your own password, reading the audit log.

A mixin of ``LibrarianClient``; it relies only on the client's ``_call``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

from librarian_client import models
from librarian_client.limits import API_PREFIX as API

if TYPE_CHECKING:
    from pydantic import BaseModel

M = TypeVar("M", bound="BaseModel")


def _user_path(name: str) -> str:
    return f"{API}/users/{quote(name, safe='')}"


class AccountsMixin:
    def _call(self, model: type[M], method: str, path: str, **kwargs: Any) -> M:
        raise NotImplementedError

    def users(self) -> list[models.UserRead]:
        """Every account (admins only): level, state, live tokens."""
        return self._call(models.UserList, "GET", f"{API}/users").users

    def create_user(
        self, name: str, password: str, permission: models.PermissionLevel | str
    ) -> models.UserRead:
        """A new account (admins only); the password is sent once and never comes back."""
        body = models.UserCreate(
            name=name, password=password, permission=models.PermissionLevel(permission)
        )
        payload = body.model_dump(mode="json")
        return self._call(models.UserRead, "POST", f"{API}/users", json=payload)

    def update_user(
        self,
        name: str,
        *,
        permission: models.PermissionLevel | str | None = None,
        disabled: bool | None = None,
    ) -> models.UserRead:
        """Change a level and/or disable or enable (admins only); effective at once."""
        body = models.UserUpdate(
            permission=None if permission is None else models.PermissionLevel(permission),
            disabled=disabled,
        )
        payload = body.model_dump(mode="json", exclude_none=True)
        return self._call(models.UserRead, "PATCH", _user_path(name), json=payload)

    def delete_user(self, name: str) -> models.UserDeleted:
        """Delete an account and its tokens (admins only); its files stay."""
        return self._call(models.UserDeleted, "DELETE", _user_path(name))

    def change_password(
        self, current_password: str, new_password: str, *, revoke_tokens: bool = False
    ) -> models.PasswordChanged:
        """Your own password; ``revoke_tokens`` also revokes all your other tokens.

        A client that logged in with the old password needs the new one from now on.
        """
        body = models.PasswordChange(
            current_password=current_password,
            new_password=new_password,
            revoke_tokens=revoke_tokens,
        )
        return self._call(
            models.PasswordChanged,
            "PUT",
            f"{API}/users/me/password",
            json=body.model_dump(mode="json"),
        )

    def audit_page(self, *, after: int | None = None, limit: int = 100) -> models.AuditPage:
        """One page of admin actions, newest first; ``next_after`` continues it."""
        params: dict[str, Any] = {"limit": limit}
        if after is not None:
            params["after"] = after
        return self._call(models.AuditPage, "GET", f"{API}/audit", params=params)

    def audit(
        self, *, limit: int | None = None, page_size: int = 100
    ) -> Iterator[models.AuditEvent]:
        """Admin actions newest first, following pages lazily; ``limit`` caps the total."""
        after: int | None = None
        remaining = limit
        while remaining is None or remaining > 0:
            want = page_size if remaining is None else min(page_size, remaining)
            page = self.audit_page(after=after, limit=min(want, models.MAX_AUDIT_PAGE))
            for event in page.events:
                yield event
                if remaining is not None:
                    remaining -= 1
            if page.next_after is None or not page.events:
                return
            after = page.next_after
