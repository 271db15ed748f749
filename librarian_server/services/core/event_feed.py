"""The pull API's reading of the event log: a page after a cursor, waiting for one if asked.

A long poll holds no transaction while it waits: each look is a short transaction of
its own (sequencing new events, when there are any, then one read), so a waiting
reader never holds the sequencer's lock nor keeps a snapshot open.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from librarian_client.models import EventInfo, EventList
from librarian_server.orm.event import Event
from librarian_server.services.core import events

POLL_SECONDS = 0.25
"""How often a waiting reader looks again."""


def parse_kinds(text: str | None) -> list[str]:
    """``"a, b,"`` -> ``["a", "b"]``: a comma-separated list, blanks ignored."""
    return [k.strip() for k in (text or "").split(",") if k.strip()]


def pull(
    factory: sessionmaker[Session],
    *,
    after: int,
    limit: int,
    kinds: list[str],
    include_admin: bool,
    wait: float = 0.0,
    poll: float = POLL_SECONDS,
    clock: Callable[[], float] = time.monotonic,
) -> EventList:
    """Events after ``after``, oldest first; with ``wait``, answered as soon as one is
    there, else empty after ``wait`` seconds."""
    deadline = clock() + max(wait, 0.0)
    cursor = after
    while True:
        page, cursor = _look(factory, after=cursor, limit=limit, kinds=kinds, admin=include_admin)
        remaining = deadline - clock()
        if page or remaining <= 0:
            return EventList(events=page, next=cursor)
        time.sleep(min(poll, remaining))


def _look(
    factory: sessionmaker[Session], *, after: int, limit: int, kinds: list[str], admin: bool
) -> tuple[list[EventInfo], int]:
    with factory() as session:
        unsequenced = session.scalar(select(Event.id).where(Event.seq.is_(None)).limit(1))
    if unsequenced is not None:
        with factory.begin() as session:
            events.sequence(session)
    with factory() as session:
        # The mark first: every seq up to it was committed with it, so nothing at or
        # below it can appear later, and the cursor may move to it.
        mark = events.last_seq(session)
        rows = events.read(session, after=after, limit=limit, kinds=kinds, include_admin=admin)
        page = [_info(e) for e in rows if e.seq is not None and e.seq <= mark]
    if len(page) == limit:
        return page, page[-1].seq
    # Every event up to the mark that this reader may see is in the page: the next read
    # starts past the mark, skipping what the filter left out.
    return page, max(after, mark)


def _info(event: Event) -> EventInfo:
    return EventInfo(
        seq=event.seq or 0,
        time=event.time,
        kind=event.kind,
        actor=event.actor,
        subject=event.subject,
        detail=dict(event.detail or {}),
    )
