"""The audit resumes where it stopped, oldest-verified first, and holds its bandwidth."""

from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy import select, update

from librarian_server.orm import Instance, Store, utcnow
from librarian_server.services.integrity.audit import AuditPolicy, audit_store, due_copies
from tests.integration.conftest import Site
from tests.integration.helpers import upload


def _store_id(site: Site) -> int:
    with site.session() as session:
        return session.scalars(select(Store.id).order_by(Store.id)).first() or 0


def _age(site: Site, name: str, days: float | None) -> None:
    when = None if days is None else utcnow() - timedelta(days=days)
    with site.factory.begin() as session:
        session.execute(
            update(Instance).where(Instance.file_name == name).values(verified_time=when)
        )


def test_due_copies_come_never_verified_first_then_oldest(site: Site) -> None:
    for name, days in (("a", 40), ("b", None), ("c", 90), ("d", 1)):
        upload(site.http, site.auth(), name, name.encode())
        _age(site, name, days)
    with site.session() as session:
        ids = due_copies(session, _store_id(site), utcnow() - timedelta(days=30), 10)
        names = [session.get_one(Instance, i).file_name for i in ids]
    assert names == ["b", "c", "a"], "d was verified a day ago: not due"


def test_a_pass_cut_short_resumes_with_the_copies_it_did_not_reach(site: Site) -> None:
    for n in range(6):
        upload(site.http, site.auth(), f"r/{n}", bytes([n]) * 1000)
        _age(site, f"r/{n}", 60)
    policy = AuditPolicy(
        period=timedelta(days=30),
        walk_every=timedelta(days=1),
        dark_after=timedelta(hours=1),
        files_per_second=5,
    )
    first = audit_store(site.factory, _store_id(site), policy, deadline=time.monotonic() + 0.5)
    assert 1 <= first.rehashed < 6
    # A restart: a new pass, no memory of the old one but the copies' own verified times.
    second = audit_store(site.factory, _store_id(site), policy, deadline=time.monotonic() + 30)
    assert first.rehashed + second.rehashed == 6
    third = audit_store(site.factory, _store_id(site), policy, deadline=time.monotonic() + 30)
    assert third.rehashed == 0


def test_the_byte_limit_is_never_passed(site: Site) -> None:
    limit = 4 << 20
    for n in range(4):
        upload(site.http, site.auth(), f"big/{n}", bytes([n]) * (3 << 20))
        _age(site, f"big/{n}", None)
    policy = AuditPolicy(
        period=timedelta(days=30),
        walk_every=timedelta(days=1),
        dark_after=timedelta(hours=1),
        bytes_per_second=limit,
    )
    started = time.monotonic()
    result = audit_store(site.factory, _store_id(site), policy, deadline=started + 60)
    elapsed = time.monotonic() - started
    assert result.rehashed == 4 and result.bytes == 12 << 20
    rate = result.bytes / elapsed
    # Never faster than the limit; slower only by what a loaded machine takes.
    assert 0.5 * limit <= rate <= 1.1 * limit, f"{rate / (1 << 20):.2f} MiB/s against 4"


def test_the_file_limit_is_never_passed(site: Site) -> None:
    for n in range(21):
        upload(site.http, site.auth(), f"small/{n}", b"s%d" % n)
        _age(site, f"small/{n}", None)
    policy = AuditPolicy(
        period=timedelta(days=30),
        walk_every=timedelta(days=1),
        dark_after=timedelta(hours=1),
        files_per_second=20,
    )
    started = time.monotonic()
    result = audit_store(site.factory, _store_id(site), policy, deadline=started + 60)
    elapsed = time.monotonic() - started
    assert result.rehashed == 21
    rate = (result.rehashed - 1) / elapsed  # the first starts at once
    assert 10 <= rate <= 22, f"{rate:.1f} files/s against 20"  # as above


def test_a_walk_cut_short_resumes_from_its_saved_place(site: Site) -> None:
    from dataclasses import replace

    from librarian_server.services.integrity.audit import StoreAudit, walk_store
    from tests.integration.integrity.helpers import WALK_ONLY, damage_rows, stray_file

    for n in range(25):
        stray_file(site, f"{n % 3:03x}/stray-{n:02d}", b"s")
    policy = replace(WALK_ONLY, walk_chunk=10)
    calls = iter([False, True])  # one stretch, then the run's time is up
    first = StoreAudit(store="local")
    walk_store(site.factory, _store_id(site), policy, first, lambda: next(calls, True))
    assert (first.walked, first.dark, first.walk_finished) == (10, 10, False)
    with site.session() as session:
        saved = session.get_one(Store, _store_id(site)).audit_walk_after
    assert saved is not None
    # A restart: the next walk starts after the saved place, not from the beginning.
    second = StoreAudit(store="local")
    walk_store(site.factory, _store_id(site), policy, second, lambda: False)
    assert (second.walked, second.dark, second.walk_finished) == (15, 15, True)
    assert len(damage_rows(site)) == 25
    with site.session() as session:
        store = session.get_one(Store, _store_id(site))
        assert store.audit_walk_after is None and store.audit_walk_finished is not None
