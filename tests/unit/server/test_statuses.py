"""The status sets: one definition, and the partial index written from it."""

from __future__ import annotations

from sqlalchemy import Table

from librarian_client.models import TransferStatus
from librarian_server.orm import (
    ACTIVE_STATUSES,
    FINISHED_STATUSES,
    HOLDING_STATUSES,
    OPEN_STATUSES,
    OUTGOING_LIVE,
    OutgoingTransfer,
)
from librarian_server.orm.statuses import status_in_sql


def test_status_in_sql_quotes_each_value() -> None:
    assert status_in_sql(OPEN_STATUSES) == "status IN ('INITIATED', 'STAGED')"
    assert status_in_sql([TransferStatus.FAILED], "s") == "s IN ('FAILED')"


def test_the_live_index_covers_exactly_the_live_statuses() -> None:
    table = OutgoingTransfer.__table__
    assert isinstance(table, Table)
    (index,) = (i for i in table.indexes if i.name == "uq_outgoing_transfers_live")
    for dialect in ("postgresql", "sqlite"):
        assert str(index.dialect_options[dialect]["where"]) == status_in_sql(OUTGOING_LIVE)


def test_every_status_is_either_live_or_finished() -> None:
    assert set(OUTGOING_LIVE) | set(FINISHED_STATUSES) == set(TransferStatus)
    assert not set(OUTGOING_LIVE) & set(FINISHED_STATUSES)
    assert set(OPEN_STATUSES) < set(ACTIVE_STATUSES) < set(HOLDING_STATUSES)
