"""Damage records: what an audit found, and how each finding ended.

A finding is recorded once: while a record for the same bytes (store and path) is
active, finding them bad again adds nothing, which the database enforces with a
partial unique index, so two audits at once cannot record one finding twice.
Records are never deleted; they end in a state that says how.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from librarian_client.models import (
    ACTIVE_DAMAGE,
    DamageInfo,
    DamageListResponse,
    DamageQuery,
    DamageState,
    Finding,
)
from librarian_server.errors import NotFound
from librarian_server.orm import Damage, Store, utcnow
from librarian_server.services.core import events

log = logging.getLogger(__name__)


def record_finding(
    session: Session,
    *,
    store_id: int,
    path: str,
    kind: Finding,
    found_by: str,
    detail: str = "",
    file_name: str | None = None,
    instance_id: int | None = None,
) -> Damage | None:
    """Record a finding unless one is already active for these bytes; the new record,
    or None when it was known already."""
    known = session.scalar(
        select(Damage.id).where(Damage.store_id == store_id, Damage.path == path, Damage.active)
    )
    if known is not None:
        return None
    now = utcnow()
    damage = Damage(
        file_name=file_name,
        instance_id=instance_id,
        store_id=store_id,
        path=path,
        kind=kind,
        state=DamageState.OPEN,
        active=True,
        found_time=now,
        updated_time=now,
        found_by=found_by,
        detail=detail,
        attempts=0,
    )
    try:
        with session.begin_nested():
            session.add(damage)
    except IntegrityError:  # another process recorded it a moment ago
        return None
    _announce(session, damage, events.DAMAGE_FOUND, actor=found_by)
    return damage


def _announce(session: Session, damage: Damage, kind: str, *, actor: str) -> None:
    store = session.get(Store, damage.store_id)
    events.record(
        session,
        kind,
        actor=actor,
        subject=damage.file_name or damage.path,  # a dark file has no catalogue name
        detail={
            "kind": damage.kind.value,
            "store": store.name if store is not None else None,
            "damage_id": damage.id,
            "path": damage.path,
        },
    )


def end(damage: Damage, state: DamageState, resolution: str) -> None:
    """Move a record to ``state``; LOST stays active (an operator must still act)."""
    damage.state = state
    damage.active = state in ACTIVE_DAMAGE
    damage.resolution = resolution
    damage.updated_time = utcnow()
    damage.next_attempt_time = None


def repaired(session: Session, damage: Damage, resolution: str, *, by: str) -> None:
    """End a record as REPAIRED and announce it (``damage.repaired``), once."""
    if damage.state is not DamageState.REPAIRED:
        _announce(session, damage, events.DAMAGE_REPAIRED, actor=by)
    end(damage, DamageState.REPAIRED, resolution)


def damage_info(damage: Damage) -> DamageInfo:
    return DamageInfo(
        id=damage.id,
        name=damage.file_name,
        store=damage.store.name,
        path=damage.path,
        kind=damage.kind,
        state=damage.state,
        found_time=damage.found_time,
        updated_time=damage.updated_time,
        found_by=damage.found_by,
        detail=damage.detail,
        resolution=damage.resolution,
        attempts=damage.attempts,
    )


def get_damage(session: Session, damage_id: int) -> Damage:
    damage = session.get(Damage, damage_id)
    if damage is None:
        raise NotFound(f"There is no damage record {damage_id}.", "`librarian damage` lists them.")
    return damage


def list_damage(session: Session, query: DamageQuery) -> DamageListResponse:
    """Newest first would hide old unrepaired damage behind new; records page by id."""
    stmt = select(Damage)
    if query.state is not None:
        stmt = stmt.where(Damage.state == query.state)
    if query.active is not None:
        stmt = stmt.where(Damage.active.is_(query.active))
    if query.kind is not None:
        stmt = stmt.where(Damage.kind == query.kind)
    if query.store is not None:
        stmt = stmt.join(Store, Store.id == Damage.store_id).where(Store.name == query.store)
    if query.after is not None:
        stmt = stmt.where(Damage.id > query.after)
    rows = list(session.scalars(stmt.order_by(Damage.id).limit(query.limit + 1)))
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    return DamageListResponse(
        damage=[damage_info(d) for d in rows], next=rows[-1].id if more and rows else None
    )


def active_counts(session: Session) -> dict[int, dict[DamageState, int]]:
    """Active records per store and state, for `librarian stores` (an indexed count)."""
    counts: dict[int, dict[DamageState, int]] = {}
    rows = session.execute(
        select(Damage.store_id, Damage.state, func.count())
        .where(Damage.active)
        .group_by(Damage.store_id, Damage.state)
    )
    for store_id, state, count in rows:
        counts.setdefault(store_id, {})[state] = count
    return counts


def due_for_repair(session: Session, now: datetime, limit: int) -> list[int]:
    """Active records of damaged copies whose next attempt is due, oldest first."""
    return list(
        session.scalars(
            select(Damage.id)
            .where(
                Damage.active,
                Damage.kind != Finding.DARK,
                (Damage.next_attempt_time.is_(None)) | (Damage.next_attempt_time <= now),
            )
            .order_by(Damage.id)
            .limit(limit)
        )
    )
