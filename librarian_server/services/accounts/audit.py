"""The audit log of administrators' actions on accounts, kept as events in the site's log.

Each action records its event in the transaction that makes the change, so the log
holds an entry exactly when the change was committed. Details name what changed
(``{"permission": {"old": ..., "new": ...}}``), never a password or a token.
"""

from __future__ import annotations

import getpass
from typing import Any

from sqlalchemy.orm import Session

from librarian_client.models import AuditEvent, AuditPage
from librarian_server.services.core import events

USER_CREATED = "admin.user_created"
USER_UPDATED = "admin.user_updated"
USER_DELETED = "admin.user_deleted"
PASSWORD_CHANGED = "admin.password_changed"  # noqa: S105 - an event kind
TOKEN_REVOKED = "admin.token_revoked"  # noqa: S105 - an event kind
KINDS = (USER_CREATED, USER_UPDATED, USER_DELETED, PASSWORD_CHANGED, TOKEN_REVOKED)


def record(
    session: Session, kind: str, *, actor: str, subject: str, detail: dict[str, Any] | None = None
) -> None:
    """One admin action, in the caller's transaction."""
    if kind not in KINDS:
        raise ValueError(f"not an admin action: {kind!r}")
    events.record(session, kind, actor=actor, subject=subject, detail=detail)


def changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """``{field: {"old": ..., "new": ...}}`` for the fields whose value differs."""
    return {
        key: {"old": before[key], "new": value}
        for key, value in after.items()
        if before.get(key) != value
    }


def server_cli_actor() -> str:
    """Who acted through ``librarian-server``: it has database access, not an account."""
    try:
        who = getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry (some containers)
        who = "unknown"
    return f"librarian-server:{who}"


def page(session: Session, *, after: int | None, limit: int) -> AuditPage:
    """Newest first; ``after`` is the last id of the previous page (older ones follow)."""
    rows = events.admin_actions(session, before_id=after, limit=limit + 1)
    more = len(rows) > limit
    found = [AuditEvent.model_validate(row) for row in rows[:limit]]
    return AuditPage(events=found, next_after=found[-1].id if more and found else None)
