"""Stores, copies and damage for integrity tests, driven through the real services."""

from __future__ import annotations

import os
import shutil
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from librarian_client.models import API_PREFIX, CopyState
from librarian_server.orm import Damage, Instance, Store, utcnow
from librarian_server.services.catalogue.stores import add_store
from librarian_server.services.integrity.audit import AuditPolicy, StoreAudit
from librarian_server.services.replication.peers import PeerDialer
from librarian_server.services.site.upkeep import audit_all, repair_due
from tests.integration.conftest import Site
from tests.integration.helpers import posix_backend

EVERYTHING_DUE = AuditPolicy(
    period=timedelta(0), walk_every=timedelta(0), dark_after=timedelta(hours=1)
)
WALK_ONLY = AuditPolicy(
    period=timedelta(days=30), walk_every=timedelta(0), dark_after=timedelta(hours=1)
)


def add_second_store(site: Site, tmp: Path, name: str = "slow") -> int:
    with site.factory.begin() as session:
        return add_store(session, name, tmp / name, make_buckets=False).id


def copies(site: Site, name: str) -> list[tuple[int, str, Path]]:
    """(instance id, store name, local path) of each copy of ``name``, oldest first."""
    with site.session() as session:
        return [
            (i.id, i.store.name, posix_backend(i.store).local_path(i.path))
            for i in session.scalars(
                select(Instance).where(Instance.file_name == name).order_by(Instance.id)
            )
        ]


def second_copy(site: Site, name: str, store_id: int) -> Path:
    """Put a copy of ``name`` on another store, as tiering or an operator would."""
    _, _, source = copies(site, name)[0]
    with site.factory.begin() as session:
        store = session.get_one(Store, store_id)
        backend = posix_backend(store)
        store_path = backend.path_for(name, "second")
        target = backend.local_path(store_path)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        session.add(
            Instance(
                file_name=name,
                store_id=store_id,
                path=store_path,
                available=True,
                verified_time=utcnow(),
                verified_result=CopyState.OK,
                verified_by="copied",
            )
        )
    return target


def flip_byte(path: Path, offset: int = 100) -> None:
    path.chmod(0o644)
    with path.open("r+b") as handle:
        handle.seek(offset)
        byte = handle.read(1)
        handle.seek(offset)
        handle.write(bytes([byte[0] ^ 0x01]))


def stray_file(site: Site, relative: str, data: bytes, *, age_seconds: float = 7200) -> Path:
    with site.session() as session:
        store = session.scalars(select(Store).order_by(Store.id)).first()
        assert store is not None
        path = posix_backend(store).local_path(relative)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    old = time.time() - age_seconds
    os.utime(path, (old, old))
    return path


def audit(site: Site, policy: AuditPolicy = EVERYTHING_DUE, seconds: float = 60) -> StoreAudit:
    """Audit every store; the results summed over stores."""
    results = audit_all(site.factory, policy, seconds=seconds)
    total = StoreAudit(store="*")
    for r in results:
        for field in ("rehashed", "bytes", "damaged", "walked", "dark", "missing"):
            setattr(total, field, getattr(total, field) + getattr(r, field))
    return total


def repair(site: Site) -> list[str]:
    dialer = PeerDialer.for_settings(site.settings)
    done = repair_due(site.factory, site.settings, dialer, limit=100, seconds=60)
    return [str(d.state) for d in done]


def damage_rows(site: Site) -> list[Damage]:
    with site.session() as session:
        rows = list(session.scalars(select(Damage).order_by(Damage.id)))
        session.expunge_all()
        return rows


def download(site: Site, name: str) -> bytes:
    r = site.http.get(f"{API_PREFIX}/download/{name}", auth=site.auth("reader"))
    assert r.status_code == 200, r.text
    return r.content
