"""Keeping copies true across the site: the audit of every store and repair of what it
finds, with the sources repair may draw on (another store here, then peers)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from librarian_client.models import DamageInfo
from librarian_server.orm import Store, utcnow
from librarian_server.services.integrity.audit import AuditPolicy, StoreAudit, audit_store
from librarian_server.services.integrity.damage import due_for_repair
from librarian_server.services.integrity.repair import LocalStoreSource, repair_damage
from librarian_server.services.integrity.sources import ReplacementSource
from librarian_server.services.replication.peer_source import PeerSource
from librarian_server.services.replication.peers import PeerDialer
from librarian_server.settings import ServerSettings


def audit_policy(settings: ServerSettings, batch_size: int) -> AuditPolicy:
    integrity = settings.integrity
    return AuditPolicy(
        period=timedelta(days=integrity.audit_period_days),
        walk_every=timedelta(hours=integrity.walk_every_hours),
        dark_after=timedelta(seconds=settings.staging_timeout_seconds),
        bytes_per_second=integrity.audit_bytes_per_second,
        files_per_second=integrity.audit_files_per_second,
        batch_size=batch_size,
    )


def audit_all(
    factory: sessionmaker[Session], policy: AuditPolicy, *, seconds: float
) -> list[StoreAudit]:
    """Every store at once, one thread each: stores are separate disks, and each has its
    own bandwidth limit."""
    with factory() as session:
        store_ids = list(session.scalars(select(Store.id).order_by(Store.id)))
    if not store_ids:
        return []
    deadline = time.monotonic() + seconds
    with ThreadPoolExecutor(len(store_ids), thread_name_prefix="audit") as pool:
        futures = [
            pool.submit(audit_store, factory, i, policy, deadline=deadline) for i in store_ids
        ]
        return [f.result() for f in futures]


def repair_sources(
    factory: sessionmaker[Session], dialer: PeerDialer, settings: ServerSettings
) -> list[ReplacementSource]:
    """Another store here first (no network, no peer's time), then the peers that hold a
    copy, each proving its copy before sending it."""
    return [LocalStoreSource(factory), PeerSource(factory, dialer, settings)]


def repair_retry(settings: ServerSettings) -> timedelta:
    return timedelta(seconds=settings.integrity.repair_retry_seconds)


def repair_due(
    factory: sessionmaker[Session],
    settings: ServerSettings,
    dialer: PeerDialer,
    *,
    limit: int,
    seconds: float,
) -> list[DamageInfo]:
    deadline = time.monotonic() + seconds
    with factory() as session:
        due = due_for_repair(session, utcnow(), limit)
    sources = repair_sources(factory, dialer, settings)
    retry = repair_retry(settings)
    done: list[DamageInfo] = []
    for damage_id in due:
        if time.monotonic() >= deadline:
            break
        done.append(repair_damage(factory, damage_id, sources, retry_after=retry))
    return done
