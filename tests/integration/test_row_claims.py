"""Row claims (core/sql): lock, then compare-and-set; whoever changes a row first owns it."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import ColumnElement, select

from librarian_server.orm import Checkin, utcnow
from librarian_server.services.core.sql import claim_rows, compare_and_set, lock_rows
from librarian_server.services.replication.checkins import queue_checkins
from tests.integration.conftest import Site


def _owe(site: Site, count: int, destination: str = "peer-a") -> list[int]:
    rows = [
        {"destination": destination, "file_name": f"f/{i}", "committed": True} for i in range(count)
    ]
    with site.factory.begin() as session:
        queue_checkins(session, rows)
    with site.factory() as session:
        return list(session.scalars(select(Checkin.id).order_by(Checkin.id)))


def _due(now: datetime) -> tuple[ColumnElement[bool], ...]:
    return (~Checkin.delivered, Checkin.next_attempt_at <= now)


def test_a_claim_takes_matching_rows_once_in_id_order(site: Site) -> None:
    ids = _owe(site, 5)
    _owe(site, 1, destination="peer-b")
    now = utcnow()
    later = {"next_attempt_at": now + timedelta(minutes=5)}
    with site.factory.begin() as session:
        first = claim_rows(
            session, Checkin.id, Checkin.destination == "peer-a", *_due(now), values=later, limit=3
        )
    assert first == ids[:3]
    with site.factory.begin() as session:
        rest = claim_rows(
            session, Checkin.id, Checkin.destination == "peer-a", *_due(now), values=later
        )
        again = claim_rows(
            session, Checkin.id, Checkin.destination == "peer-a", *_due(now), values=later
        )
    assert rest == ids[3:5] and again == []
    with site.factory() as session:
        moved = session.scalars(select(Checkin).where(Checkin.id.in_(ids))).all()
        assert {c.next_attempt_at for c in moved} == {later["next_attempt_at"]}


def test_compare_and_set_refuses_a_row_that_changed_since_it_was_read(site: Site) -> None:
    ids = _owe(site, 2)
    now = utcnow()
    with site.factory.begin() as session:
        read = lock_rows(session, Checkin.id, *_due(now))
    with site.factory.begin() as session:  # another worker delivers the first meanwhile
        compare_and_set(session, Checkin.id, ids[:1], values={"delivered": True})
    with site.factory.begin() as session:
        won = compare_and_set(session, Checkin.id, read, *_due(now), values={"attempts": 1})
    assert read == ids and won == ids[1:]
    assert compare_and_set(site.session(), Checkin.id, [], values={"attempts": 2}) == []


def test_rows_another_transaction_holds_are_skipped_not_waited_for(site: Site) -> None:
    if site.settings.is_embedded:
        pytest.skip("SQLite has one writer: there are no row locks to skip")
    ids = _owe(site, 4)
    now = utcnow()
    with site.factory.begin() as holder:
        held = lock_rows(holder, Checkin.id, *_due(now), limit=2)
        with site.factory.begin() as other:
            taken = claim_rows(other, Checkin.id, *_due(now), values={"attempts": 1})
    assert held == ids[:2] and taken == ids[2:]
