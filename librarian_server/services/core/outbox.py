"""The outbox: notifications owed to receivers outside the site, delivered at least once.

A notification is queued in the same transaction as the change it announces, under a
key naming the outcome, so reaching an outcome twice (two workers, a retry after a
crash) still queues one. The delivery task posts each with its signature
(``transfer.notify``; the key is ``CredentialBox.derive(signer)``)
and an id the receiver can use to drop a repeat, retrying with backoff until a 2xx
or the message's expiry; rows are claimed, so two workers never post the same one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from librarian_server.orm import ErrorCategory, OutboxMessage, utcnow
from librarian_server.services.core.credentials import CredentialBox
from librarian_server.services.core.error_log import record_error
from librarian_server.services.core.sql import claim_rows, insert_ignoring_conflicts
from librarian_server.settings import ColdSettings
from librarian_server.transfer.notify import post_signed

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)


def queue(
    session: Session,
    *,
    key: str,
    kind: str,
    url: str,
    body: str,
    signer: str,
    expires: datetime,
) -> None:
    now = utcnow()
    insert_ignoring_conflicts(
        session,
        OutboxMessage.__table__,  # type: ignore[arg-type]
        [
            {
                "key": key,
                "kind": kind,
                "url": url,
                "body": body,
                "signer": signer,
                "created_time": now,
                "next_attempt_at": now,
                "expires_time": expires,
                "attempts": 0,
                "abandoned": False,
            }
        ],
    )


def backoff(attempts: int, settings: ColdSettings) -> timedelta:
    seconds = settings.notify_backoff_seconds * 2 ** max(attempts - 1, 0)
    return timedelta(seconds=min(seconds, settings.notify_backoff_max_seconds))


def deliver(
    factory: sessionmaker[Session],
    box: CredentialBox,
    settings: ColdSettings,
    *,
    limit: int,
    out_of_time: Callable[[], bool],
    transport: httpx.BaseTransport | None = None,
) -> dict[str, int]:
    delivered = failed = abandoned = 0
    with httpx.Client(timeout=settings.notify_timeout_seconds, transport=transport) as client:
        while not out_of_time():
            due = _claim(factory, limit)
            if not due:
                break
            for message in due:
                error = post_signed(
                    client,
                    message.url,
                    message.body,
                    secret=box.derive(message.signer),
                    delivery=f"{message.kind}-{message.id}",
                )
                outcome = _settle(factory, message.id, error, settings)
                if outcome == "delivered":
                    delivered += 1
                elif outcome == "abandoned":
                    abandoned += 1
                    record_error(
                        factory,
                        ErrorCategory.BACKGROUND,
                        f"gave up notifying {message.url} ({message.key}) after "
                        f"{message.attempts + 1} attempt(s): {error}",
                        caller="deliver_outbox",
                    )
                else:
                    failed += 1
            if len(due) < limit:
                break
    return {"delivered": delivered, "failed": failed, "abandoned": abandoned}


def _claim(factory: sessionmaker[Session], limit: int) -> list[OutboxMessage]:
    now = utcnow()
    with factory.begin() as session:
        ids = claim_rows(
            session,
            OutboxMessage.id,
            OutboxMessage.delivered_time.is_(None),
            ~OutboxMessage.abandoned,
            OutboxMessage.next_attempt_at <= now,
            values={"next_attempt_at": now + LEASE},
            limit=limit,
        )
        if not ids:
            return []
        rows = list(
            session.scalars(
                select(OutboxMessage).where(OutboxMessage.id.in_(ids)).order_by(OutboxMessage.id)
            )
        )
        session.expunge_all()
        return rows


def _settle(
    factory: sessionmaker[Session], message_id: int, error: str | None, settings: ColdSettings
) -> str:
    now = utcnow()
    with factory.begin() as session:
        row = session.get(OutboxMessage, message_id)
        if row is None:
            return "gone"
        if error is None:
            row.delivered_time, row.last_error = now, None
            return "delivered"
        row.attempts += 1
        row.last_error = error
        if now >= row.expires_time:
            row.abandoned = True
            log.warning("outbox: giving up on %s after %d attempts", row.url, row.attempts)
            return "abandoned"
        row.next_attempt_at = min(now + backoff(row.attempts, settings), row.expires_time)
        log.info(
            "outbox: %s not delivered (%s); next try at %s", row.url, error, row.next_attempt_at
        )
        return "failed"
