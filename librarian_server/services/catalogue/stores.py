"""Stores in the catalogue: registration, listing, and choosing one with room."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import delete, event, func, select, update
from sqlalchemy.orm import Session

from librarian_client.models import DamageState, Finding, ReleasePolicyInfo, StoreInfo
from librarian_server.errors import (
    ConfigurationError,
    Conflict,
    InsufficientStorage,
    InvalidRequest,
    NotFound,
)
from librarian_server.orm import (
    HOLDING_STATUSES,
    Damage,
    File,
    IncomingTransfer,
    Instance,
    ReleasePolicy,
    Store,
    StoreKind,
)
from librarian_server.stores import PosixStore, backend_for
from librarian_server.stores.cold import ColdOptions
from librarian_server.stores.registry import s3_backend
from librarian_server.stores.s3 import S3Options

log = logging.getLogger(__name__)


def add_store(
    session: Session,
    name: str,
    root: Path,
    *,
    capacity_bytes: int | None = None,
    accepts_ingest: bool = True,
    make_buckets: bool = True,
    kind: StoreKind = StoreKind.POSIX,
    options: dict[str, Any] | None = None,
) -> Store:
    """A directory as a store (POSIX, or COLD: on a tape system's filesystem, whose
    tape system must answer before the store is recorded)."""
    root = root.expanduser().resolve()
    _check_new(session, name, str(root), capacity_bytes, "Give each store its own directory.")
    store = Store(
        name=name,
        kind=kind,
        root=str(root),
        options=options,
        uuid=str(uuid.uuid4()),
        capacity_bytes=capacity_bytes,
        used_bytes=0,
        enabled=True,
        accepts_ingest=accepts_ingest,
    )
    backend_for(store).check()
    PosixStore.initialise(root, store.uuid, make_buckets=make_buckets)
    session.add(store)
    session.flush()
    return store


def _check_new(
    session: Session, name: str, root: str, capacity_bytes: int | None, remedy: str
) -> None:
    if session.scalar(select(Store.id).where(Store.name == name)) is not None:
        raise Conflict(f"Store {name!r} already exists.", "Choose another name.")
    if session.scalar(select(Store.id).where(Store.root == root)) is not None:
        raise Conflict(f"A store already uses {root}.", remedy)
    if capacity_bytes is not None and capacity_bytes < 0:
        raise InvalidRequest("Capacity must not be negative.")


def get_stores(session: Session) -> list[Store]:
    return list(session.scalars(select(Store).order_by(Store.id)))


def get_store(session: Session, name: str) -> Store:
    store = session.scalar(select(Store).where(Store.name == name))
    if store is None:
        raise NotFound(f"There is no store {name!r}.", "`librarian-server stores` lists them.")
    return store


def set_store_enabled(session: Session, name: str, enabled: bool) -> Store:
    """A disabled store takes no new uploads or clones; its files are still read and served."""
    store = get_store(session, name)
    if enabled and store.retired:
        raise Conflict(f"Store {name!r} is retired.", "A retired store stays out of service.")
    store.enabled = enabled
    session.flush()
    return store


def retire_store(session: Session, name: str) -> Store:
    """Take an empty store out of service for good: disabled, never chosen for ingest, and
    kept in the catalogue (marked retired) so that history still names it.

    Refused while any instance is on it (``drain-store`` moves them off) or an upload
    into it is in flight.
    """
    store = get_store(session, name)
    held = session.scalar(select(func.count(Instance.id)).where(Instance.store_id == store.id))
    if held:
        raise Conflict(
            f"Store {name!r} still holds {held} file instance(s).",
            f"Move them off first: `librarian-server drain-store {name}`.",
        )
    if _in_flight_bytes(session, store.id) or session.scalar(
        select(func.count(IncomingTransfer.id)).where(
            IncomingTransfer.store_id == store.id,
            IncomingTransfer.status.in_(HOLDING_STATUSES),
        )
    ):
        raise Conflict(
            f"Store {name!r} has uploads in flight.",
            "Disable it (`librarian-server store disable`) and wait for them to finish.",
        )
    refuse_if_target(session, store)
    store.enabled = False
    store.accepts_ingest = False
    store.retired = True
    session.execute(delete(ReleasePolicy).where(ReleasePolicy.store_id == store.id))
    session.flush()
    return store


def remove_store(session: Session, name: str, *, may_remove_last: bool = True) -> int:
    """Forget an empty store; returns how many finished uploads into it were forgotten too.

    Refused while the catalogue knows any instance on it or an upload into it is in
    flight: the catalogue must never point at a store it no longer knows. Its directory
    is left on disk for the operator. The embedded default (``may_remove_last=False``)
    keeps its last store, which it would otherwise recreate on the same directory.
    """
    store = get_store(session, name)
    held = session.scalar(select(func.count(Instance.id)).where(Instance.store_id == store.id))
    if held:
        raise Conflict(
            f"Store {name!r} holds {held} file instance(s).",
            "Move or delete them first; `librarian-server store disable` stops new uploads.",
        )
    in_flight = session.scalar(
        select(func.count(IncomingTransfer.id)).where(
            IncomingTransfer.store_id == store.id,
            IncomingTransfer.status.in_(HOLDING_STATUSES),
        )
    )
    if in_flight:
        raise Conflict(
            f"Store {name!r} has {in_flight} upload(s) in flight.",
            "Disable it (`librarian-server store disable`) and wait for them to finish.",
        )
    refuse_if_target(session, store)
    if not may_remove_last and len(get_stores(session)) == 1:
        raise Conflict(
            f"Store {name!r} is the only store of the embedded default, which needs one.",
            "Add another store first, or disable this one (`librarian-server store disable`).",
        )
    of_store = IncomingTransfer.store_id == store.id
    history = session.scalar(select(func.count(IncomingTransfer.id)).where(of_store)) or 0
    session.execute(delete(IncomingTransfer).where(of_store))
    session.delete(store)
    session.flush()
    return int(history)


def refuse_if_target(session: Session, store: Store) -> None:
    """A store other stores' policies move copies to stays until those policies change."""
    sources = session.scalars(
        select(Store.name)
        .join(ReleasePolicy, ReleasePolicy.store_id == Store.id)
        .where(ReleasePolicy.target_store_id == store.id)
    ).all()
    if sources:
        raise Conflict(
            f"The policy of store(s) {', '.join(sources)} moves copies to {store.name!r}.",
            "Change or clear it first (`librarian-server store-policy`).",
        )


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
        select(Store)
        .where(Store.enabled, Store.accepts_ingest, Store.retired.is_(False))
        .order_by(Store.id)
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


def _damage_counts(session: Session, store_id: int) -> dict[str, int]:
    counts = {"damaged": 0, "lost": 0, "dark": 0}
    rows = session.execute(
        select(Damage.kind, Damage.state, func.count())
        .where(Damage.active, Damage.store_id == store_id)
        .group_by(Damage.kind, Damage.state)
    )
    for kind, state, count in rows:
        key = "dark" if kind is Finding.DARK else "lost" if state is DamageState.LOST else "damaged"
        counts[key] += count
    return counts


def policy_info(policy: ReleasePolicy) -> ReleasePolicyInfo:
    return ReleasePolicyInfo(
        store=policy.store.name,
        after_days=policy.after_days,
        action=policy.action,
        target_store=policy.target_store.name if policy.target_store is not None else None,
        min_copies=policy.min_copies,
        proof_age_days=policy.proof_age_days,
        allow_remote_only=policy.allow_remote_only,
    )


def store_info(session: Session, store: Store, *, min_free_bytes: int = 0) -> StoreInfo:
    policy = session.scalar(select(ReleasePolicy).where(ReleasePolicy.store_id == store.id))
    return StoreInfo(
        name=store.name,
        kind=store.kind.value,
        root=store.root,
        capacity_bytes=store.capacity_bytes,
        used_bytes=store.used_bytes,
        free_bytes=room_in(session, store, min_free_bytes=min_free_bytes),
        enabled=store.enabled,
        accepts_ingest=store.accepts_ingest,
        **_damage_counts(session, store.id),
        retired=store.retired,
        online_bytes=_online_bytes(session, store) if store.kind is StoreKind.COLD else None,
        policy=policy_info(policy) if policy is not None else None,
    )


def _online_bytes(session: Session, store: Store) -> int:
    return int(
        session.scalar(
            select(func.coalesce(func.sum(File.size), 0))
            .join(Instance, Instance.file_name == File.name)
            .where(Instance.store_id == store.id, Instance.available)
        )
        or 0
    )


def add_used_bytes(session: Session, deltas: Mapping[int, int]) -> None:
    """The one place a store's ``used_bytes`` changes: store id -> bytes added (or freed).

    An UPDATE ... SET used_bytes = used_bytes + delta, so concurrent writers add up
    instead of overwriting each other's totals.
    """
    for store_id, delta in sorted(deltas.items()):
        if delta:
            session.execute(
                update(Store)
                .where(Store.id == store_id)
                .values(used_bytes=Store.used_bytes + delta)
            )


def delete_after_commit(session: Session, doomed: list[tuple[Store, str]]) -> None:
    """Remove these store bytes once the session's transaction commits (never on a rollback).

    A crash in between leaves bytes no row refers to, which clean-up removes; never a
    row whose bytes are gone.
    """

    def run(_: Session) -> None:
        for store, store_path in doomed:
            try:
                backend_for(store).delete(store_path)
            except OSError:
                log.exception("could not remove %s from store %s", store_path, store.name)

    event.listen(session, "after_commit", run, once=True)


def add_s3_store(
    session: Session,
    name: str,
    options: S3Options,
    *,
    capacity_bytes: int | None = None,
    accepts_ingest: bool = True,
) -> Store:
    """A bucket as a store: reached and listed with its credentials before it is recorded."""
    root = f"{options.endpoint.rstrip('/')}/{options.bucket}"
    _check_new(session, name, root, capacity_bytes, "Give each store its own bucket.")
    store = Store(
        name=name,
        kind=StoreKind.S3,
        root=root,
        options=options.model_dump(),
        uuid=str(uuid.uuid4()),
        capacity_bytes=capacity_bytes,
        used_bytes=0,
        enabled=True,
        accepts_ingest=accepts_ingest,
    )
    s3_backend(store.uuid, options).initialise()
    session.add(store)
    session.flush()
    return store


def add_cold_store(
    session: Session,
    name: str,
    root: Path,
    options: ColdOptions,
    *,
    capacity_bytes: int | None = None,
    accepts_ingest: bool = False,
    make_buckets: bool = True,
) -> Store:
    return add_store(
        session,
        name,
        root,
        capacity_bytes=capacity_bytes,
        accepts_ingest=accepts_ingest,
        make_buckets=make_buckets,
        kind=StoreKind.COLD,
        options=options.model_dump(),
    )


def check_stores(session: Session) -> list[tuple[str, ConfigurationError]]:
    """Every enabled store that cannot be used now, with why (start-up's check)."""
    problems = []
    for store in session.scalars(select(Store).where(Store.enabled, ~Store.retired)):
        try:
            backend_for(store).check()
        except ConfigurationError as exc:
            problems.append((store.name, exc))
    return problems
