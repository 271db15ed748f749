"""Compare-and-set on transfer rows: whoever changes a transfer's state first owns it.

Clean-up, commit and the PUT that finishes staging each move a transfer out of a
state only if it is still in that state, in one ``UPDATE ... WHERE status IN
(...)``; only the rows whose update succeeded are theirs to act on. A commit in
another process that has claimed its rows holds them (PostgreSQL row locks,
SQLite's single writer) until it commits, and then they are no longer open, so
clean-up can never take bytes a commit is about to catalogue. Rows are locked in
id order (``SELECT ... ORDER BY id FOR UPDATE``) so two claimers never deadlock.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from librarian_client.models import ErrorCode, TransferStatus
from librarian_server.errors import Conflict
from librarian_server.orm import IncomingTransfer

CHUNK = 500


class TransferClosed(Conflict):
    """The transfers were closed (clean-up, cancel) before this request could claim them."""

    code = ErrorCode.TRANSFER_CLOSED

    def __init__(self, transfer_ids: Iterable[int], what: str) -> None:
        self.transfer_ids = sorted(transfer_ids)
        shown = ", ".join(str(i) for i in self.transfer_ids[:20])
        super().__init__(
            f"{what}: transfer(s) {shown} were closed meanwhile (abandoned or cancelled) "
            "and no longer hold their bytes.",
            "Stage those files again and upload them; nothing of them was catalogued.",
        )


def claim(
    session: Session,
    transfer_ids: Iterable[int],
    *,
    statuses: Iterable[TransferStatus],
    values: dict[str, Any],
    stale_before: datetime | None = None,
    skip_locked: bool = False,
) -> set[int]:
    """Set ``values`` on the transfers still in ``statuses`` (and idle since ``stale_before``).

    Returns the ids whose update succeeded. ``skip_locked`` passes over rows another
    transaction holds (clean-up uses it: a row held is a row being committed).
    """
    wanted = tuple(statuses)
    won: set[int] = set()
    ordered = sorted(set(transfer_ids))
    for start in range(0, len(ordered), CHUNK):
        where: list[Any] = [
            IncomingTransfer.id.in_(ordered[start : start + CHUNK]),
            IncomingTransfer.status.in_(wanted),
        ]
        if stale_before is not None:
            where.append(IncomingTransfer.updated_time < stale_before)
        locked = session.scalars(
            select(IncomingTransfer.id)
            .where(*where)
            .order_by(IncomingTransfer.id)
            .with_for_update(skip_locked=skip_locked)
        ).all()
        if not locked:
            continue
        where[0] = IncomingTransfer.id.in_(locked)
        won.update(
            session.scalars(
                update(IncomingTransfer)
                .where(*where)
                .values(**values)
                .returning(IncomingTransfer.id)
                .execution_options(synchronize_session=False)
            ).all()
        )
    return won
