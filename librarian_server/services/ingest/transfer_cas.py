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

from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session

from librarian_client.models import ErrorCode, TransferStatus
from librarian_server.errors import Conflict
from librarian_server.orm import IncomingTransfer
from librarian_server.services.core.sql import claim_rows, in_chunks


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
    where: list[ColumnElement[bool]] = [IncomingTransfer.status.in_(tuple(statuses))]
    if stale_before is not None:
        where.append(IncomingTransfer.updated_time < stale_before)
    won: set[int] = set()
    for chunk in in_chunks(sorted(set(transfer_ids))):
        won.update(
            claim_rows(
                session,
                IncomingTransfer.id,
                *where,
                ids=chunk,
                values=values,
                skip_locked=skip_locked,
                synchronize=False,
            )
        )
    return won
