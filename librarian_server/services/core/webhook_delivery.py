"""Posting the event log to webhook subscriptions: in order, signed, at least once.

A round sequences new events, then delivers one due subscription at a time:

1. *Claim* it (row lock, then compare-and-set of ``next_attempt_at`` to the end of a
   lease), so two workers never post to one subscription at once, and pin its batch
   (``batch_end``) in the same commit, before anything is sent.
2. *Post* the batch with no transaction open, signed with the subscription's secret,
   under the delivery id ``"<name>:<first seq>-<last seq>"``.
3. *Settle*: on a 2xx the cursor moves past the batch; otherwise the batch waits, with
   exponential backoff, and is sent again as it was, under the same id. A worker that
   dies between 2 and 3 leaves its lease to run out, and the batch is sent again.

Events a subscription did not ask for are never posted; when nothing after its cursor
matches, the cursor moves to the end of the log without a POST.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import httpx
from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from librarian_client.models import WebhookEvent, WebhookPayload, WebhookTestResponse, shown_url
from librarian_server.orm import Event, WebhookSubscription, utcnow
from librarian_server.services.core import events, webhooks
from librarian_server.services.core.credentials import CredentialBox
from librarian_server.services.core.sql import claim_rows
from librarian_server.settings import WebhookSettings
from librarian_server.transfer.notify import post_signed

log = logging.getLogger(__name__)

LEASE_MARGIN = timedelta(seconds=5)
MAX_BATCH = 10_000
"""No batch holds more (the task's ``batch_size`` is at most this)."""


@dataclass(frozen=True)
class Batch:
    """One claimed subscription's batch, as posted (``body`` None: nothing to post)."""

    id: int
    name: str
    url: str
    secret: str
    lease: datetime
    cursor: int
    end: int
    body: str | None = None
    delivery: str = ""
    count: int = 0


def backoff(attempts: int, settings: WebhookSettings) -> timedelta:
    seconds = settings.backoff_seconds * 2 ** max(attempts - 1, 0)
    return timedelta(seconds=min(seconds, settings.backoff_max_seconds))


def lease_length(settings: WebhookSettings) -> timedelta:
    """Longer than one POST can take (the timeout bounds connecting, sending and each
    read), so a live worker keeps its claim; a dead one's batch waits this long."""
    return timedelta(seconds=3 * settings.timeout_seconds) + LEASE_MARGIN


def scrubbed(text: str, url: str) -> str:
    """``text`` with the URL's credentials and query taken out (errors may quote it)."""
    parts = urlsplit(url)
    userinfo = parts.netloc.rpartition("@")[0]
    text = text.replace(url, shown_url(url))
    for hidden in (f"{userinfo}@" if userinfo else "", f"?{parts.query}" if parts.query else ""):
        if hidden:
            text = text.replace(hidden, "")
    if parts.password and len(parts.password) >= 4:
        text = text.replace(parts.password, "***")
    return text


def deliver(
    factory: sessionmaker[Session],
    box: CredentialBox,
    settings: WebhookSettings,
    *,
    limit: int,
    out_of_time: Callable[[], bool],
    transport: httpx.BaseTransport | None = None,
) -> dict[str, int]:
    """One round; returns counts of POSTs delivered and failed, events sent and skipped
    subscriptions (nothing of theirs in the new events)."""
    with factory.begin() as session:
        events.sequence(session)
    counts = {"delivered": 0, "failed": 0, "events": 0, "skipped": 0}
    with httpx.Client(timeout=settings.timeout_seconds, transport=transport) as client:
        while not out_of_time():
            batch = _claim(factory, box, settings, limit)
            if batch is None:
                break
            if batch.body is None:
                counts["skipped"] += 1
                continue
            error = post_signed(
                client, batch.url, batch.body, secret=batch.secret, delivery=batch.delivery
            )
            if error is not None:
                error = scrubbed(error, batch.url)
            if _settle(factory, batch, error, settings):
                counts["delivered" if error is None else "failed"] += 1
                counts["events"] += batch.count if error is None else 0
    return counts


def _matching(
    session: Session, row: WebhookSubscription, *, until: int | None, limit: int
) -> list[Event]:
    query = select(Event).where(Event.seq > row.cursor, webhooks.matching(row.kinds))
    if until is not None:
        query = query.where(Event.seq <= until)
    return list(session.scalars(query.order_by(Event.seq).limit(limit)))


def _claim(
    factory: sessionmaker[Session], box: CredentialBox, settings: WebhookSettings, limit: int
) -> Batch | None:
    now = utcnow()
    lease = now + lease_length(settings)
    with factory.begin() as session:
        last = events.last_seq(session)
        sub = WebhookSubscription
        ids = claim_rows(
            session,
            sub.id,
            sub.enabled.is_(True),
            sub.next_attempt_at <= now,
            or_(sub.cursor < last, sub.batch_end.is_not(None)),
            values={"next_attempt_at": lease},
            limit=1,
        )
        if not ids:
            return None
        row = session.get_one(WebhookSubscription, ids[0])
        end = row.batch_end
        if end is None:
            found = _matching(session, row, until=None, limit=limit)
            if found:
                # All of a full batch, or everything up to the end of the log seen so far
                # (what the read saw is every event up to its last seq and to ``last``).
                newest = found[-1].seq or 0
                end = newest if len(found) == limit else max(last, newest)
        else:
            found = _matching(session, row, until=end, limit=MAX_BATCH)
        if end is None or not found:
            row.cursor = max(row.cursor, end or last)
            row.batch_end, row.next_attempt_at = None, now
            row.attempts, row.pending_since = 0, None
            return Batch(row.id, row.name, row.url, "", lease, row.cursor, row.cursor)
        row.batch_end = end  # pinned, and committed before anything is sent
        payload = WebhookPayload(
            subscription=row.name,
            events=[
                WebhookEvent(
                    seq=e.seq or 0,
                    time=e.time,
                    kind=e.kind,
                    actor=e.actor,
                    subject=e.subject,
                    detail=e.detail or {},
                )
                for e in found
            ],
        )
        return Batch(
            id=row.id,
            name=row.name,
            url=row.url,
            secret=box.open(row.sealed_secret),
            lease=lease,
            cursor=row.cursor,
            end=end,
            body=payload.model_dump_json(),
            delivery=f"{row.name}:{found[0].seq}-{found[-1].seq}",
            count=len(found),
        )


def _settle(
    factory: sessionmaker[Session], batch: Batch, error: str | None, settings: WebhookSettings
) -> bool:
    """Record the outcome if the claim is still this worker's; False when it is not (the
    lease ran out, or an administrator changed or removed the subscription meanwhile)."""
    now = utcnow()
    emit = log.info if error is None else log.warning
    with factory.begin() as session:
        row = session.scalar(
            select(WebhookSubscription)
            .where(
                WebhookSubscription.id == batch.id,
                WebhookSubscription.next_attempt_at == batch.lease,
                WebhookSubscription.cursor == batch.cursor,
            )
            .with_for_update()
        )
        if row is None:
            log.info(
                "webhook %s: claim lost; %s is left to be sent again", batch.name, batch.delivery
            )
            return False
        row.last_attempt_time = now
        if error is None:
            row.cursor, row.batch_end = batch.end, None
            row.attempts, row.pending_since, row.next_attempt_at = 0, None, now
            row.last_delivery_time, row.last_status, row.last_error = now, "delivered", None
            row.delivered_events += batch.count
        else:
            row.attempts += 1
            row.failed_attempts += 1
            row.pending_since = row.pending_since or now
            row.next_attempt_at = now + backoff(row.attempts, settings)
            row.last_status, row.last_error = "failed", error
        emit(
            "webhook %s: %s %d event(s) to %s%s",
            batch.name,
            "delivered" if error is None else "could not deliver",
            batch.count,
            shown_url(batch.url),
            ""
            if error is None
            else f" ({error}); attempt {row.attempts}, next {row.next_attempt_at}",
        )
        return True


def send_test(
    factory: sessionmaker[Session],
    name: str,
    box: CredentialBox,
    settings: WebhookSettings,
    *,
    transport: httpx.BaseTransport | None = None,
) -> WebhookTestResponse:
    """POST a signed batch of no events (``"test": true``) now, whatever the
    subscription's state, and say what the receiver answered; nothing is recorded."""
    with factory() as session:
        secret, url = webhooks.secret_and_url(session, name, box)
    delivery = f"{name}:test-{secrets.token_hex(4)}"
    body = WebhookPayload(subscription=name, events=[], test=True).model_dump_json()
    with httpx.Client(timeout=settings.timeout_seconds, transport=transport) as client:
        error = post_signed(client, url, body, secret=secret, delivery=delivery)
    if error is not None:
        error = scrubbed(error, url)
    log.info("webhook %s: test to %s: %s", name, shown_url(url), error or "delivered")
    return WebhookTestResponse(delivered=error is None, error=error, delivery=delivery)
