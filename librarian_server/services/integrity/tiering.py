"""Moving a copy to another store of this site: copy, verify, commit, then drop the old.

The order is what makes a crash harmless, at any point:

1. The bytes stream from the source store into the target store's staging area,
   hashed as they go, and are synced. No transaction is open meanwhile. A crash
   here leaves a staged orphan that clean-up removes; the old copy is untouched.
2. Size and checksum must match the catalogue, else the staged bytes are dropped
   (and the source copy, if it is the one that is wrong, is marked bad).
3. One transaction, under the file's lock: the new Instance (verified ok by
   ``tiering``) and the target's ``used_bytes``; the staged bytes are renamed into
   the target store and synced; the source Instance row is deleted and its store's
   ``used_bytes`` lowered. If the rename or the commit fails, the bytes are moved
   back and the transaction rolls back: the old copy stands alone, as before.
4. Only after that transaction has committed are the source bytes unlinked. A crash
   before the unlink leaves bytes no row refers to (a dark file for the audit),
   never a row without bytes.

So there is always the old copy or both, never neither. A download that opened the
old bytes before step 4 finishes reading them (POSIX keeps an unlinked open file);
one that starts later is served from the new instance.
"""

from __future__ import annotations

import contextlib
import secrets
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from librarian_client.models import CopyState
from librarian_server.orm import Event, Instance, Store, utcnow
from librarian_server.services.catalogue.copies import mark_bad, usable
from librarian_server.services.catalogue.stores import (
    add_used_bytes,
    delete_after_commit,
    room_in,
)
from librarian_server.services.integrity.locks import lock_file
from librarian_server.services.integrity.rehash import copy_verified
from librarian_server.stores import backend_for


@dataclass(frozen=True)
class MoveOutcome:
    moved: bool
    reason: str
    bytes_copied: int = 0


@dataclass(frozen=True)
class _Source:
    instance_id: int
    name: str
    size: int
    checksum: str
    store: Store
    path: str
    target: Store
    target_has_copy: bool


def _load(session: Session, instance_id: int, target_store_id: int) -> _Source | str:
    instance = session.get(Instance, instance_id)
    if instance is None:
        return "gone: moved or released meanwhile"
    target = session.get(Store, target_store_id)
    if target is None or target.retired:
        return "blocked: the target store is gone or retired"
    if target.id == instance.store_id:
        return "already on the target store"
    existing = session.scalar(
        select(Instance.id).where(
            Instance.file_name == instance.file_name,
            Instance.store_id == target.id,
            usable(),
            Instance.verified_result == CopyState.OK,
        )
    )
    return _Source(
        instance.id,
        instance.file_name,
        instance.file.size,
        instance.file.checksum,
        instance.store,
        instance.path,
        target,
        existing is not None,
    )


def move_copy(
    factory: sessionmaker[Session],
    instance_id: int,
    target_store_id: int,
    *,
    by: str = "tiering",
    min_free_bytes: int = 0,
) -> MoveOutcome:
    """Move one copy to ``target_store_id`` (see the module's docstring for the order)."""
    with factory() as session:
        loaded = _load(session, instance_id, target_store_id)
        if isinstance(loaded, str):
            return MoveOutcome(False, loaded)
        if (
            not loaded.target_has_copy
            and room_in(session, loaded.target, min_free_bytes=min_free_bytes) < loaded.size
        ):
            return MoveOutcome(False, f"blocked: no room on {loaded.target.name}")
    if loaded.target_has_copy:
        return _drop_source(factory, loaded, None, by=by)
    try:
        return _copy_and_commit(factory, loaded, by=by)
    except OSError as exc:  # the target refused the bytes: nothing changed
        why = exc.strerror or str(exc)
        return MoveOutcome(False, f"blocked: storing on {loaded.target.name} failed: {why}")


def _copy_and_commit(factory: sessionmaker[Session], loaded: _Source, *, by: str) -> MoveOutcome:
    source_backend = backend_for(loaded.store)
    staging = backend_for(loaded.target).new_staging_path()
    problem = copy_verified(
        partial(source_backend.open_read, loaded.path), staging, loaded.size, loaded.checksum
    )
    if problem is not None:
        if problem.startswith(("hashes to", "read ")):  # the source's bytes are wrong
            mark_bad(factory, {loaded.instance_id: f"corrupt: {problem}"}, by=by)
        return MoveOutcome(False, f"blocked: the copy on {loaded.store.name} {problem}")
    return _drop_source(factory, loaded, staging, by=by)


def _drop_source(
    factory: sessionmaker[Session], source: _Source, staging: Path | None, *, by: str
) -> MoveOutcome:
    """Step 3 (and 4 after the commit): the new row and bytes, then the old row gone."""
    target_backend = backend_for(source.target)
    store_path = target_backend.path_for(source.name, unique=secrets.token_hex(6))
    committed = settled = False
    try:
        if staging is not None:  # an object store's upload, before any lock is taken
            target_backend.send_ahead([(staging, store_path)])
        with factory.begin() as session:
            lock_file(session, source.name)
            if session.get(Instance, source.instance_id) is None:
                return MoveOutcome(False, "gone: moved or released meanwhile")
            now = utcnow()
            if staging is not None:
                session.add(
                    Instance(
                        file_name=source.name,
                        store_id=source.target.id,
                        path=store_path,
                        available=True,
                        created_time=now,
                        verified_time=now,
                        verified_result=CopyState.OK,
                        verified_by=by,
                    )
                )
                add_used_bytes(session, {source.target.id: source.size})
                session.flush()
            elif not _target_still_has_copy(session, source):
                return MoveOutcome(False, "blocked: the target's copy went meanwhile")
            session.execute(delete(Instance).where(Instance.id == source.instance_id))
            add_used_bytes(session, {source.store.id: -source.size})
            session.add(
                Event(
                    time=now,
                    kind="copy.moved",
                    actor=by,
                    subject=source.name,
                    detail={
                        "from": source.store.name,
                        "to": source.target.name,
                        "size": source.size,
                        "copied": staging is not None,
                    },
                )
            )
            delete_after_commit(session, [(source.store, source.path)])
            if staging is not None:
                target_backend.commit(staging, store_path)
                committed = True
        settled = committed
    finally:
        if staging is not None:
            if not settled and (committed or target_backend.sends_ahead):
                with contextlib.suppress(OSError):  # not catalogued: its bytes go
                    target_backend.uncommit(store_path, staging)
            # Gone with a rename; an object store's spool copy goes now.
            target_backend.discard_staging(staging)
    copied = source.size if staging is not None else 0
    return MoveOutcome(True, f"moved to {source.target.name}", copied)


def _target_still_has_copy(session: Session, source: _Source) -> bool:
    return (
        session.scalar(
            select(Instance.id).where(
                Instance.file_name == source.name,
                Instance.store_id == source.target.id,
                usable(),
            )
        )
        is not None
    )
