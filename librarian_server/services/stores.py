"""Stores in the catalogue: registration, listing, and choosing one with room."""

from __future__ import annotations

import uuid
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from librarian_client.models import StoreInfo

from ..errors import Conflict, InsufficientStorage, InvalidRequest
from ..orm import HOLDING_STATUSES, IncomingTransfer, Store, StoreKind
from ..stores import PosixStore, backend_for


def add_store(
    session: Session,
    name: str,
    root: Path,
    *,
    capacity_bytes: int | None = None,
    accepts_ingest: bool = True,
    make_buckets: bool = True,
) -> Store:
    if session.scalar(select(Store.id).where(Store.name == name)) is not None:
        raise Conflict(f"Store {name!r} already exists.", "Choose another name.")
    root = root.expanduser().resolve()
    if session.scalar(select(Store.id).where(Store.root == str(root))) is not None:
        raise Conflict(f"A store already uses {root}.", "Give each store its own directory.")
    if capacity_bytes is not None and capacity_bytes < 0:
        raise InvalidRequest("Capacity must not be negative.")
    store = Store(
        name=name,
        kind=StoreKind.POSIX,
        root=str(root),
        uuid=str(uuid.uuid4()),
        capacity_bytes=capacity_bytes,
        used_bytes=0,
        enabled=True,
        accepts_ingest=accepts_ingest,
    )
    PosixStore.initialise(root, store.uuid, make_buckets=make_buckets)
    session.add(store)
    session.flush()
    return store


def get_stores(session: Session) -> list[Store]:
    return list(session.scalars(select(Store).order_by(Store.id)))


def _in_flight_bytes(session: Session, store_id: int) -> int:
    total = session.scalar(
        select(func.coalesce(func.sum(IncomingTransfer.expected_size), 0)).where(
            IncomingTransfer.store_id == store_id,
            IncomingTransfer.status.in_(HOLDING_STATUSES),
        )
    )
    return int(total or 0)


def room_in(session: Session, store: Store, *, min_free_bytes: int) -> int:
    """Bytes a new upload may still claim: disk free and capacity, less in-flight uploads."""
    in_flight = _in_flight_bytes(session, store.id)
    room = backend_for(store).free_bytes() - min_free_bytes - in_flight
    if store.capacity_bytes is not None:
        room = min(room, store.capacity_bytes - store.used_bytes - in_flight)
    return max(room, 0)


def choose_store(session: Session, needed_bytes: int, *, min_free_bytes: int) -> Store:
    candidates = session.scalars(
        select(Store).where(Store.enabled, Store.accepts_ingest).order_by(Store.id)
    ).all()
    best = 0
    for store in candidates:
        room = room_in(session, store, min_free_bytes=min_free_bytes)
        if room >= needed_bytes:
            return store
        best = max(best, room)
    if not candidates:
        raise InsufficientStorage(
            "No enabled store accepts uploads.", "Add one with `librarian-server add-store`."
        )
    raise InsufficientStorage(
        f"No store has room for {needed_bytes} bytes (the most any store can take is {best}).",
    )


def store_info(session: Session, store: Store, *, min_free_bytes: int = 0) -> StoreInfo:
    return StoreInfo(
        name=store.name,
        kind=store.kind.value,
        root=store.root,
        capacity_bytes=store.capacity_bytes,
        used_bytes=store.used_bytes,
        free_bytes=room_in(session, store, min_free_bytes=min_free_bytes),
        enabled=store.enabled,
        accepts_ingest=store.accepts_ingest,
    )
