"""Repair: replace a damaged copy with bytes proven good elsewhere, never losing any.

The order is what makes it safe. A replacement is fetched into the damaged copy's
store's staging area and hashed there; only then are the bad bytes moved aside
(quarantined, not deleted), the new bytes committed under a fresh path, and the
catalogue switched to them in one transaction; the quarantined bytes go last. A
crash at any step leaves the bad copy (in place or in quarantine, still marked bad)
and the record still open, so the next attempt carries on. A file whose every copy
known to this site is bad is marked lost, loudly, and nothing of it is touched.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from librarian_client.models import CopyState, DamageInfo, DamageState, Finding
from librarian_server.errors import Conflict
from librarian_server.orm import Damage, ErrorCategory, File, Instance, utcnow
from librarian_server.services.catalogue.copies import mark_bad, mark_verified, usable
from librarian_server.services.core.error_log import record_error
from librarian_server.services.integrity.damage import (
    damage_info,
    end,
    get_damage,
    record_finding,
    repaired,
)
from librarian_server.services.integrity.rehash import copy_verified, rehash_path, rehash_stored
from librarian_server.services.integrity.sources import ReplacementSource
from librarian_server.stores import StoreBackend, backend_for

log = logging.getLogger(__name__)

REPAIR_BY = "repair"


class LocalStoreSource:
    """Another copy at this site (any store): proven by the very read that copies it."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self.factory = factory

    def __repr__(self) -> str:
        return "this site's other stores"

    def fetch(self, file_name: str, size: int, checksum: str, dest: Path) -> str | None:
        with self.factory() as session:
            candidates = [
                (i.id, i.store_id, i.store.name, i.path, backend_for(i.store))
                for i in session.scalars(
                    select(Instance)
                    .where(Instance.file_name == file_name, usable())
                    .order_by(Instance.id)
                )
            ]
        for instance_id, store_id, store, store_path, backend in candidates:
            problem = copy_verified(partial(backend.open_read, store_path), dest, size, checksum)
            if problem is None:
                with self.factory.begin() as session:
                    mark_verified(session, [instance_id], by=REPAIR_BY)
                return f"store {store}"
            # The would-be source is damaged too: it gets its own record and repair.
            mark_bad(self.factory, {instance_id: problem}, by=REPAIR_BY)
            with self.factory.begin() as session:
                record_finding(
                    session,
                    store_id=store_id,
                    path=store_path,
                    kind=Finding.CORRUPT,
                    found_by=REPAIR_BY,
                    detail=problem,
                    file_name=file_name,
                    instance_id=instance_id,
                )
        return None


@dataclass(frozen=True)
class _Job:
    damage_id: int
    file_name: str
    size: int
    checksum: str
    instance_id: int
    store_id: int
    path: str
    backend: StoreBackend
    quarantine_path: str | None


def _load(session: Session, damage: Damage) -> _Job | str:
    """What repair needs, or why there is nothing to repair any more."""
    if damage.kind is Finding.DARK:
        raise Conflict(
            f"Damage {damage.id} is a dark file, not a damaged copy.",
            "Register, quarantine or delete it with `librarian-server dark`.",
        )
    if not damage.active:
        raise Conflict(f"Damage {damage.id} is already {damage.state}.", "Nothing to do.")
    file = session.get(File, damage.file_name) if damage.file_name else None
    instance = session.get(Instance, damage.instance_id) if damage.instance_id else None
    if file is None:
        return "the file was deleted from the catalogue"
    if instance is None:
        return "the damaged copy is no longer catalogued"
    return _Job(
        damage.id,
        file.name,
        file.size,
        file.checksum,
        instance.id,
        instance.store_id,
        instance.path,
        backend_for(instance.store),
        damage.quarantine_path,
    )


def repair_damage(
    factory: sessionmaker[Session],
    damage_id: int,
    sources: Sequence[ReplacementSource],
    *,
    retry_after: timedelta,
    by: str = REPAIR_BY,
) -> DamageInfo:
    """One attempt at one record; returns the record as it now stands."""
    with factory.begin() as session:
        damage = get_damage(session, damage_id)
        job = _load(session, damage)
        if isinstance(job, str):
            end(damage, DamageState.GONE, job)
            return damage_info(damage)
        damage.attempts += 1
        damage.updated_time = utcnow()
    if job.quarantine_path is None and _reads_true(factory, job):
        return _close(factory, job, "the copy reads true again", by)
    tried: list[str] = []
    for source in sources:
        staging = job.backend.new_staging_path()
        try:
            origin = source.fetch(job.file_name, job.size, job.checksum, staging)
            if origin is None:
                tried.append(f"{source!r}: no good copy")
                continue
            verdict = rehash_path(staging, job.size, job.checksum)
            if not verdict.ok:
                tried.append(f"{origin}: sent bad bytes ({verdict.detail})")
                continue
            return _replace(factory, job, staging, origin, by)
        except Exception as exc:  # one source failing must not stop the next
            log.warning("repair of damage %d from %r failed: %s", damage_id, source, exc)
            tried.append(f"{source!r}: {exc}")
        finally:
            job.backend.discard_staging(staging)
    return _no_source(factory, job, tried, retry_after)


def _reads_true(factory: sessionmaker[Session], job: _Job) -> bool:
    """A copy that reads right now (restored by hand, a transient read error) needs no
    new bytes; it is marked verified again."""
    if rehash_stored(job.backend, job.path, job.size, job.checksum).ok:
        with factory.begin() as session:
            mark_verified(session, [job.instance_id], by=REPAIR_BY)
        return True
    return False


def _replace(
    factory: sessionmaker[Session], job: _Job, staging: Path, origin: str, by: str
) -> DamageInfo:
    quarantine_path = job.quarantine_path
    if quarantine_path is None and job.backend.exists(job.path):
        quarantine_path = job.backend.quarantine(job.path, f"damage{job.damage_id}")
        with factory.begin() as session:
            get_damage(session, job.damage_id).quarantine_path = quarantine_path
    new_path = job.backend.path_for(job.file_name, secrets.token_hex(4))
    job.backend.commit(staging, new_path)
    try:
        with factory.begin() as session:
            damage = session.scalar(
                select(Damage).where(Damage.id == job.damage_id).with_for_update()
            )
            old = session.get(Instance, job.instance_id)
            if damage is None or not damage.active or old is None:
                raise Conflict(f"Damage {job.damage_id} was settled by someone else meanwhile.", "")
            now = utcnow()
            session.add(
                Instance(
                    file_name=job.file_name,
                    store_id=job.store_id,
                    path=new_path,
                    available=True,
                    created_time=now,
                    verified_time=now,
                    verified_result=CopyState.OK,
                    verified_by=by,
                )
            )
            session.delete(old)  # same store, same size: used bytes do not change
            repaired(session, damage, f"replaced from {origin}; new copy at {new_path}", by=by)
            info = damage_info(damage)
    except BaseException:
        job.backend.uncommit(new_path, staging)
        raise
    if quarantine_path is not None:
        job.backend.delete_quarantined(quarantine_path)
        with factory.begin() as session:
            get_damage(session, job.damage_id).quarantine_path = None
    log.info("repaired %r on store %d from %s", job.file_name, job.store_id, origin)
    return info


def _close(factory: sessionmaker[Session], job: _Job, why: str, by: str) -> DamageInfo:
    """The copy is good again without new bytes: repaired."""
    with factory.begin() as session:
        damage = get_damage(session, job.damage_id)
        repaired(session, damage, why, by=by)
        return damage_info(damage)


def _no_source(
    factory: sessionmaker[Session], job: _Job, tried: list[str], retry_after: timedelta
) -> DamageInfo:
    why = "; ".join(tried) or "no source was configured"
    with factory.begin() as session:
        damage = get_damage(session, job.damage_id)
        if not damage.active or damage.state is DamageState.REPAIRED:
            return damage_info(damage)  # settled meanwhile by another attempt
        good_here = session.scalar(
            select(Instance.id).where(Instance.file_name == job.file_name, usable()).limit(1)
        )
        was_lost = damage.state is DamageState.LOST
        if good_here is None:
            damage.state = DamageState.LOST
            damage.resolution = f"every copy known to this site is bad or unreachable: {why}"
        else:
            damage.resolution = f"not repaired yet: {why}"
        damage.next_attempt_time = utcnow() + retry_after
        damage.updated_time = utcnow()
        info = damage_info(damage)
    if info.state is DamageState.LOST and not was_lost:
        message = (
            f"the file {job.file_name!r} is lost: every copy known to this site is bad, and "
            f"none could be had from elsewhere ({why}); its bad copies are kept"
        )
        log.error("%s", message)
        record_error(factory, ErrorCategory.STORE, message, caller=REPAIR_BY)
    return info
