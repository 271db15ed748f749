"""Draining a store: every copy on it moved to other stores of this site, verified.

Each copy goes by ``tiering.move_copy`` (copy, verify, commit, then drop the old), so
a drain stopped at any point (Ctrl-C, a crash) leaves every file with its old copy or
both, and running it again carries on with what is left. The store is disabled first,
so no new upload lands on it meanwhile; it still serves what it holds until moved.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from librarian_client.models import CopyState
from librarian_server.errors import Conflict, InsufficientStorage, InvalidRequest
from librarian_server.orm import File, Instance, Store
from librarian_server.services.catalogue.copies import usable
from librarian_server.services.catalogue.stores import get_store, room_in
from librarian_server.services.integrity.tiering import MoveOutcome, move_copy

PAGE = 200

DrainProgress = Callable[[str, int, MoveOutcome], None]
"""Told of each copy (name, size, outcome) once it has been moved or skipped."""


@dataclass
class DrainResult:
    store: str
    total: int = 0
    total_bytes: int = 0
    moved: int = 0
    moved_bytes: int = 0
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def left(self) -> int:
        return self.total - self.moved


def start_drain(factory: sessionmaker[Session], name: str, *, to: str | None = None) -> DrainResult:
    """Disable the store and count what is on it (for a progress bar)."""
    with factory.begin() as session:
        store = get_store(session, name)
        if to is not None:
            target = get_store(session, to)
            if target.id == store.id:
                raise InvalidRequest("A store cannot be drained into itself.")
            if target.retired:
                raise Conflict(f"Store {to!r} is retired.", "Choose a store in service.")
        store.enabled = False
        count, size = session.execute(
            select(func.count(Instance.id), func.coalesce(func.sum(File.size), 0))
            .join(File, File.name == Instance.file_name)
            .where(Instance.store_id == store.id)
        ).one()
    return DrainResult(name, int(count), int(size))


def drain_store(
    factory: sessionmaker[Session],
    name: str,
    *,
    to: str | None = None,
    min_free_bytes: int = 0,
    progress: DrainProgress | None = None,
) -> DrainResult:
    """Move every copy off ``name`` (to ``to``, or to whichever store has a copy already
    or room); a copy that cannot move now is reported and skipped, never lost."""
    result = start_drain(factory, name, to=to)
    after = 0
    while True:
        with factory() as session:
            store = get_store(session, name)
            page = session.execute(
                select(Instance.id, Instance.file_name, File.size)
                .join(File, File.name == Instance.file_name)
                .where(Instance.store_id == store.id, Instance.id > after)
                .order_by(Instance.id)
                .limit(PAGE)
            ).all()
            targets = {
                instance_id: _target(session, store, file_name, size, to, min_free_bytes)
                for instance_id, file_name, size in page
            }
        if not page:
            return result
        for instance_id, file_name, size in page:
            after = instance_id
            target = targets[instance_id]
            if isinstance(target, str):
                outcome = MoveOutcome(False, target)
            else:
                outcome = move_copy(
                    factory, instance_id, target, by="drain", min_free_bytes=min_free_bytes
                )
            if outcome.moved:
                result.moved += 1
                result.moved_bytes += size
            else:
                result.failed[file_name] = outcome.reason
            if progress is not None:
                progress(file_name, size, outcome)


def _target(
    session: Session, source: Store, name: str, size: int, to: str | None, min_free_bytes: int
) -> int | str:
    """The store a copy goes to: the one asked for, else one with a good copy already,
    else the first store in service with room; or why there is none."""
    if to is not None:
        return get_store(session, to).id
    have = session.scalar(
        select(Instance.store_id)
        .join(Store, Store.id == Instance.store_id)
        .where(
            Instance.file_name == name,
            Instance.store_id != source.id,
            Store.retired.is_(False),
            usable(),
            Instance.verified_result == CopyState.OK,
        )
        .order_by(Instance.id)
    )
    if have is not None:
        return int(have)
    stores = session.scalars(
        select(Store)
        .where(Store.id != source.id, Store.enabled, Store.retired.is_(False))
        .order_by(Store.accepts_ingest.desc(), Store.id)
    ).all()
    for store in stores:
        if room_in(session, store, min_free_bytes=min_free_bytes) >= size:
            return store.id
    if not stores:
        raise InsufficientStorage(
            "No other enabled store to drain into.", "Add one with `librarian-server add-store`."
        )
    return "blocked: no other store has room"
