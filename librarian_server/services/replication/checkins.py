"""Check-ins: a receiver telling a source which copies now exist (or were refused).

The receiver keeps what it owes in the ``checkins`` table and delivers it in
batches when the source is reachable, with backoff, across restarts, days later
if need be. The source records each answer once: a repeated check-in is harmless.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from librarian_client.models import (
    CheckinItem,
    CheckinRequest,
    CheckinResponse,
    OutgoingStatusRequest,
    OutgoingStatusResponse,
)
from librarian_server.errors import LibrarianError
from librarian_server.orm import OUTGOING_LIVE, Checkin, OutgoingTransfer, utcnow
from librarian_server.services.accounts.auth import AuthenticatedUser
from librarian_server.services.catalogue.names import normalise
from librarian_server.services.core.sql import claim_rows, in_chunks
from librarian_server.services.ingest.commit import existing_files
from librarian_server.services.replication.outgoing import (
    backoff,
    complete,
    record_remote_copies,
    retry_or_fail,
)
from librarian_server.services.replication.peers import (
    PeerDialer,
    check_caller,
    get_peer,
    note_contact,
)
from librarian_server.settings import ServerSettings


def queue_checkins(session: Session, rows: list[dict[str, Any]]) -> None:
    """Owe these confirmations to their source sites (delivered by send_checkins)."""
    now = utcnow()
    session.add_all(Checkin(next_attempt_at=now, created_time=now, **row) for row in rows)


def deliver_checkins(
    factory: sessionmaker[Session],
    settings: ServerSettings,
    dialer: PeerDialer,
    *,
    limit: int,
    out_of_time: Callable[[], bool],
) -> dict[str, int]:
    delivered = deferred = 0
    with factory() as session:
        destinations = list(
            session.scalars(
                select(Checkin.destination)
                .where(~Checkin.delivered, Checkin.next_attempt_at <= utcnow())
                .distinct()
            )
        )
    lease = timedelta(seconds=settings.replication.claim_seconds)
    for destination in destinations:
        while not out_of_time():
            due = _claim(factory, destination, limit, lease)
            if not due:
                break
            try:
                with factory() as session:
                    peer = get_peer(session, destination)
                request = CheckinRequest(
                    site=settings.site_name,
                    files=[
                        CheckinItem(
                            source_transfer_id=c.source_transfer_id,
                            name=c.file_name,
                            committed=c.committed,
                            checksum=c.checksum,
                            reason=c.reason,
                            holder=c.holder,
                        )
                        for c in due
                    ],
                )
                with dialer.open(peer) as client:
                    client.checkin(request)
            except LibrarianError as exc:
                _settle(factory, due, error=exc.reason, settings=settings)
                note_contact(factory, destination, exc.reason)
                deferred += len(due)
                break  # this source is unreachable now; try the next one
            _settle(factory, due, error=None, settings=settings)
            note_contact(factory, destination)
            delivered += len(due)
    return {"delivered": delivered, "deferred": deferred}


def _claim(
    factory: sessionmaker[Session], destination: str, limit: int, lease: timedelta
) -> list[Checkin]:
    """Take a batch of due check-ins for a while, so another worker skips them."""
    now = utcnow()
    with factory.begin() as session:
        claimed = claim_rows(
            session,
            Checkin.id,
            Checkin.destination == destination,
            ~Checkin.delivered,
            Checkin.next_attempt_at <= now,
            values={"next_attempt_at": now + lease},
            limit=limit,
        )
        if not claimed:
            return []
        return list(
            session.scalars(select(Checkin).where(Checkin.id.in_(claimed)).order_by(Checkin.id))
        )


def _settle(
    factory: sessionmaker[Session],
    due: list[Checkin],
    *,
    error: str | None,
    settings: ServerSettings,
) -> None:
    now = utcnow()
    with factory.begin() as session:
        for c in due:
            row = session.get(Checkin, c.id)
            if row is None:
                continue
            if error is None:
                row.delivered, row.delivered_time, row.last_error = True, now, None
            else:
                row.attempts += 1
                row.last_error = error
                row.next_attempt_at = now + backoff(row.attempts, settings.replication)


def record_checkins(
    session: Session,
    request: CheckinRequest,
    *,
    user: AuthenticatedUser,
    settings: ServerSettings,
) -> CheckinResponse:
    """At the source: what a peer says became of our transfers to it, and of our files'
    copies at third sites."""
    check_caller(user, request.site)
    _record_notices(session, [i for i in request.files if i.holder is not None])
    ids = [i.source_transfer_id for i in request.files if i.source_transfer_id is not None]
    known: dict[int, OutgoingTransfer] = {}
    for chunk in in_chunks(ids):
        known.update(
            (t.id, t)
            for t in session.scalars(
                select(OutgoingTransfer).where(
                    OutgoingTransfer.id.in_(chunk),
                    OutgoingTransfer.destination == request.site,
                )
            )
        )
    done: list[int] = []
    refused: dict[int, str] = {}
    matched: set[int] = set()
    for item in request.files:
        transfer = known.get(item.source_transfer_id or 0)
        if transfer is None or normalise(transfer.file_name) != normalise(item.name):
            continue
        matched.add(transfer.id)
        if item.committed and item.checksum == transfer.checksum:
            done.append(transfer.id)
        elif item.committed:
            refused[transfer.id] = (
                f"{request.site} reports {item.checksum} for {item.name}, not {transfer.checksum}"
            )
        else:
            refused[transfer.id] = f"refused by {request.site}: {item.reason or 'no reason given'}"
    complete(session, done, site=settings.site_name)
    retry_or_fail(session, refused, settings=settings.replication)
    return CheckinResponse(
        recorded=[i for i in ids if i in matched], unknown=[i for i in ids if i not in matched]
    )


def _record_notices(session: Session, notices: list[CheckinItem]) -> None:
    """Copies of our files at third sites, as a peer saw them confirmed: recorded when the
    checksum is ours (a notice about other bytes under the name is ignored)."""
    if not notices:
        return
    named = [(normalise(n.name), n) for n in notices]
    ours = existing_files(session, {name for name, _ in named})
    record_remote_copies(
        session,
        (
            (name, n.holder)
            for name, n in named
            if n.holder and (f := ours.get(name)) is not None and f.checksum == n.checksum
        ),
    )


def outgoing_live(
    session: Session, request: OutgoingStatusRequest, *, user: AuthenticatedUser
) -> OutgoingStatusResponse:
    """At the source: which of these transfers to ``site`` do we still mean to finish?"""
    check_caller(user, request.site)
    live = session.scalars(
        select(OutgoingTransfer.id).where(
            OutgoingTransfer.id.in_(request.source_transfer_ids),
            OutgoingTransfer.destination == request.site,
            OutgoingTransfer.status.in_(OUTGOING_LIVE),
        )
    )
    return OutgoingStatusResponse(live=sorted(live))
