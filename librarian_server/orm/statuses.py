"""The sets of transfer statuses that queries, checks and indexes group by, kept in one place.

A transfer's life is INITIATED → STAGED → ONGOING → STAGED_AT_DEST → COMPLETED, or FAILED /
CANCELLED. Each set below names one question asked of that life; they are kept here so that a
new status is added to every question at once, and so that the partial index on live outgoing
transfers is written from the same tuple that queries filter by.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from librarian_client.models import TransferStatus

# Still taking bytes: staged, nothing (or only part) received yet.
OPEN_STATUSES = (TransferStatus.INITIATED, TransferStatus.STAGED)
# An incoming transfer not finished: taking bytes, or bytes being received right now.
ACTIVE_STATUSES = (*OPEN_STATUSES, TransferStatus.ONGOING)
# Still holding staged bytes: the active ones, and clones whose sender has declared
# them complete and that await verification here.
HOLDING_STATUSES = (*ACTIVE_STATUSES, TransferStatus.STAGED_AT_DEST)
# An outgoing transfer that is neither confirmed nor given up: at most one per file and peer.
OUTGOING_LIVE = (
    TransferStatus.INITIATED,
    TransferStatus.STAGED,
    TransferStatus.ONGOING,
    TransferStatus.STAGED_AT_DEST,
)
# An outgoing transfer handed over to the peer and waiting for its word.
AWAITING_PEER = (TransferStatus.STAGED, TransferStatus.ONGOING, TransferStatus.STAGED_AT_DEST)
# Over: nothing will happen to the transfer any more.
FINISHED_STATUSES = (TransferStatus.COMPLETED, TransferStatus.FAILED, TransferStatus.CANCELLED)


def status_in_sql(statuses: Iterable[StrEnum], column: str = "status") -> str:
    """``status IN (...)`` as static SQL text, for partial indexes (which take no parameters)."""
    return f"{column} IN ({', '.join(repr(s.value) for s in statuses)})"
