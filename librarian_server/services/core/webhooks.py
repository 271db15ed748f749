"""Webhook subscriptions: who is posted which events, and where each delivery stands.

Administrators manage them; each change is an audit event (``admin.webhook_*``). The
secret that signs the POSTs is sealed in the database with the site's key file
(``CredentialBox``), shown once when the site makes it, and never again.
Delivery itself is ``webhook_delivery``.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import ColumnElement, false, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from librarian_client.models import (
    MAX_WEBHOOK_BACKLOG,
    WebhookCreateRequest,
    WebhookInfo,
    WebhookUpdateRequest,
    shown_url,
)
from librarian_server.errors import Conflict, NotFound
from librarian_server.orm import Event, WebhookSubscription, utcnow
from librarian_server.services.core import events
from librarian_server.services.core.credentials import CredentialBox

WEBHOOK_CREATED = "admin.webhook_created"
WEBHOOK_UPDATED = "admin.webhook_updated"
WEBHOOK_DELETED = "admin.webhook_deleted"


def matching(kinds: Sequence[str]) -> ColumnElement[bool]:
    """The events a subscription asked for: its kinds and families (``admin.*``), or with
    none every kind but the administrators' own."""
    if not kinds:
        return ~Event.kind.startswith(events.ADMIN_PREFIX, autoescape=True)
    exact = [k for k in kinds if not k.endswith(("*", "."))]
    families = [k.rstrip("*") for k in kinds if k.endswith(("*", "."))]
    clauses = [Event.kind.startswith(f, autoescape=True) for f in families]
    if exact:
        clauses.append(Event.kind.in_(exact))
    return or_(false(), *clauses)


def _get(session: Session, name: str) -> WebhookSubscription:
    row = session.scalar(select(WebhookSubscription).where(WebhookSubscription.name == name))
    if row is None:
        raise NotFound(f"No webhook named {name!r}.", "List them with `librarian webhooks list`.")
    return row


def _audit(detail_url: str, kinds: Sequence[str]) -> dict[str, Any]:
    return {"url_host": urlsplit(detail_url).hostname or "", "kinds": list(kinds)}


def create(
    session: Session, request: WebhookCreateRequest, *, actor: str, box: CredentialBox
) -> tuple[WebhookInfo, str | None]:
    """The new subscription and, when the site made its secret, that secret (else None).

    It starts at the end of the log: it is sent what happens from now on."""
    name = request.name
    secret = request.secret or secrets.token_urlsafe(32)
    made = None if request.secret else secret
    events.sequence(session)  # "from now on" includes what committed just before
    now = utcnow()
    row = WebhookSubscription(
        name=name,
        url=request.url,
        kinds=list(request.kinds),
        sealed_secret=box.seal(secret),
        created_by=actor,
        created_time=now,
        enabled=True,
        cursor=events.last_seq(session),
        attempts=0,
        next_attempt_at=now,
        delivered_events=0,
        failed_attempts=0,
    )
    taken = Conflict(
        f"A webhook named {request.name!r} exists.",
        "Choose another name, or remove it first with `librarian webhooks remove`.",
    )
    if session.scalar(select(WebhookSubscription.id).where(WebhookSubscription.name == name)):
        raise taken
    try:
        with session.begin_nested():  # another request may take the name meanwhile
            session.add(row)
    except IntegrityError:
        raise taken from None
    events.record(
        session, WEBHOOK_CREATED, actor=actor, subject=row.name, detail=_audit(row.url, row.kinds)
    )
    return info(session, row), made


def info(session: Session, row: WebhookSubscription) -> WebhookInfo:
    waiting = (
        select(Event.id)
        .where(Event.seq > row.cursor, matching(row.kinds))
        .limit(MAX_WEBHOOK_BACKLOG)
        .subquery()
    )
    backlog = session.scalar(select(func.count()).select_from(waiting)) or 0
    return WebhookInfo(
        name=row.name,
        url=shown_url(row.url),
        kinds=list(row.kinds),
        enabled=row.enabled,
        created_by=row.created_by,
        created_time=row.created_time,
        cursor=row.cursor,
        backlog=backlog,
        attempts=row.attempts,
        pending_since=row.pending_since,
        next_attempt_at=row.next_attempt_at if row.attempts else None,
        last_attempt_time=row.last_attempt_time,
        last_delivery_time=row.last_delivery_time,
        last_status=row.last_status,
        last_error=row.last_error,
        delivered_events=row.delivered_events,
        failed_attempts=row.failed_attempts,
    )


def list_all(session: Session) -> list[WebhookInfo]:
    rows = session.scalars(select(WebhookSubscription).order_by(WebhookSubscription.name))
    return [info(session, row) for row in rows]


def get(session: Session, name: str) -> WebhookInfo:
    return info(session, _get(session, name))


def update(
    session: Session, name: str, request: WebhookUpdateRequest, *, actor: str
) -> WebhookInfo:
    """Change what is given. A new url or kinds drops the batch on its way (it is read
    again under the new kinds) and its failures; enabling tries at once."""
    row = _get(session, name)
    changed: dict[str, Any] = {}
    if request.url is not None and request.url != row.url:
        row.url = request.url
        changed["url_host"] = urlsplit(row.url).hostname or ""
    if request.kinds is not None and list(request.kinds) != list(row.kinds):
        row.kinds = list(request.kinds)
        changed["kinds"] = row.kinds
    if changed:
        row.batch_end, row.attempts, row.pending_since = None, 0, None
        row.next_attempt_at = utcnow()
    if request.enabled is not None and request.enabled != row.enabled:
        row.enabled = request.enabled
        changed["enabled"] = row.enabled
        if row.enabled:
            row.next_attempt_at = utcnow()
    if changed:
        events.record(session, WEBHOOK_UPDATED, actor=actor, subject=row.name, detail=changed)
    session.flush()
    return info(session, row)


def delete(session: Session, name: str, *, actor: str) -> WebhookInfo:
    row = _get(session, name)
    gone = info(session, row)
    session.delete(row)
    events.record(
        session, WEBHOOK_DELETED, actor=actor, subject=row.name, detail=_audit(row.url, row.kinds)
    )
    return gone


def secret_and_url(session: Session, name: str, box: CredentialBox) -> tuple[str, str]:
    """What a test POST needs: the opened secret and the full URL (for sending only)."""
    row = _get(session, name)
    return box.open(row.sealed_secret), row.url
