"""Claims on send queues: one worker at a time works a batch, whatever runs where.

A claim is a compare-and-set on the queue row (``claimed_until`` in the future,
``claimed_by`` the worker), taken in a short transaction; candidates are picked
with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL so that workers do not queue up
behind each other. The work itself runs outside any transaction and renews the
claim as it goes; a claim a crashed worker left behind simply expires.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import or_
from sqlalchemy.orm import Session, sessionmaker

from librarian_server.orm import QueueStatus, SendQueue, utcnow
from librarian_server.services.core.lease import Lease as RowLease
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


class Lease(RowLease):
    """The claim on a send batch, kept alive during its sending."""

    def __init__(
        self, factory: sessionmaker[Session], queue_id: int, worker: str, seconds: float
    ) -> None:
        super().__init__(factory, SendQueue, queue_id, worker, seconds)
        self.queue_id = queue_id
