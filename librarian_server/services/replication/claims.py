"""Claims on send queues: one worker at a time works a batch, whatever runs where.

A claim is a compare-and-set on the queue row (``claimed_until`` in the future,
``claimed_by`` the worker), taken in a short transaction; candidates are picked
with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL so that workers do not queue up
behind each other. The work itself runs outside any transaction and renews the
claim as it goes; a claim a crashed worker left behind simply expires.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from sqlalchemy import or_, update
from sqlalchemy.orm import Session, sessionmaker

from librarian_server.orm import QueueStatus, SendQueue, utcnow
from librarian_server.services.core.sql import compare_and_set, lock_rows


def claim_queue(
    factory: sessionmaker[Session],
    *,
    worker: str,
    seconds: float,
    status: QueueStatus,
    new_status: QueueStatus | None = None,
    where: tuple[Any, ...] = (),
) -> int | None:
    now = utcnow()
    free = or_(SendQueue.claimed_until.is_(None), SendQueue.claimed_until < now)
    values = {
        "claimed_by": worker,
        "claimed_until": now + timedelta(seconds=seconds),
        "status": new_status or status,
        "updated_time": now,
    }
    with factory.begin() as session:
        mine = (SendQueue.status == status, free)
        for queue_id in lock_rows(session, SendQueue.id, *mine, *where, limit=8):
            if compare_and_set(session, SendQueue.id, [queue_id], *mine, values=values):
                return queue_id
    return None


class Lease:
    """Keeps a claim alive during long work; renews at most every third of its length."""

    def __init__(
        self, factory: sessionmaker[Session], queue_id: int, worker: str, seconds: float
    ) -> None:
        self.factory = factory
        self.queue_id = queue_id
        self.worker = worker
        self.seconds = seconds
        self._renewed = time.monotonic()

    def renew(self) -> None:
        if time.monotonic() - self._renewed < self.seconds / 3:
            return
        self._renewed = time.monotonic()
        with self.factory.begin() as session:
            session.execute(
                update(SendQueue)
                .where(SendQueue.id == self.queue_id, SendQueue.claimed_by == self.worker)
                .values(claimed_until=utcnow() + timedelta(seconds=self.seconds))
            )

    def release(self, session: Session) -> None:
        session.execute(
            update(SendQueue)
            .where(SendQueue.id == self.queue_id, SendQueue.claimed_by == self.worker)
            .values(claimed_until=None)
        )
