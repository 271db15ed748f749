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

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from librarian_server.orm import QueueStatus, SendQueue, utcnow
from librarian_server.services.core.sql import execute_count


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
    with factory.begin() as session:
        candidates = session.scalars(
            select(SendQueue.id)
            .where(SendQueue.status == status, free, *where)
            .order_by(SendQueue.id)
            .limit(8)
            .with_for_update(skip_locked=True)
        ).all()
        for queue_id in candidates:
            taken = execute_count(
                session,
                update(SendQueue)
                .where(SendQueue.id == queue_id, SendQueue.status == status, free)
                .values(
                    claimed_by=worker,
                    claimed_until=now + timedelta(seconds=seconds),
                    status=new_status or status,
                    updated_time=now,
                ),
            )
            if taken:
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
