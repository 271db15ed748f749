"""Repair under faults: a crash part-way leaves the bad copy and an open record that the
next attempt finishes; two attempts at once make one new copy."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from librarian_client.models import DamageState
from librarian_server.orm import Instance
from librarian_server.services.integrity.repair import LocalStoreSource, repair_damage
from librarian_server.stores.posix import PosixStore
from tests.integration.conftest import Site
from tests.integration.helpers import upload
from tests.integration.integrity.helpers import (
    add_second_store,
    audit,
    copies,
    damage_rows,
    flip_byte,
    repair,
    second_copy,
)

DATA = b"0123456789abcdef" * 70_000


def _damaged(site: Site, tmp_path: Path) -> tuple[int, Path]:
    upload(site.http, site.auth(), "f/a", DATA)
    second_copy(site, "f/a", add_second_store(site, tmp_path))
    _, _, bad = copies(site, "f/a")[0]
    flip_byte(bad, 777)
    audit(site)
    [record] = damage_rows(site)
    return record.id, bad


def test_a_crash_before_the_new_copy_is_committed_leaves_it_all_for_the_next_attempt(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    damage_id, bad = _damaged(site, tmp_path)
    rotten = bad.read_bytes()

    def power_cut(self: PosixStore, staging: Path, store_path: str) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(PosixStore, "commit", power_cut)
    info = repair_damage(
        site.factory, damage_id, [LocalStoreSource(site.factory)], retry_after=timedelta(0)
    )
    assert info.state is DamageState.OPEN and "Input/output error" in (info.resolution or "")
    [record] = damage_rows(site)
    assert record.quarantine_path is not None, "the bad bytes were moved aside, not deleted"
    quarantined = bad.parents[2] / "quarantine" / record.quarantine_path
    assert quarantined.read_bytes() == rotten
    assert len(copies(site, "f/a")) == 2
    staging = bad.parents[2] / "staging"
    assert not any(staging.iterdir()), "the fetched bytes do not linger in staging"

    monkeypatch.undo()
    assert repair(site) == ["repaired"]
    assert not quarantined.exists()
    assert [p.read_bytes() == DATA for _, _, p in copies(site, "f/a")] == [True, True]


def test_two_repairs_of_one_record_at_once_make_one_new_copy(site: Site, tmp_path: Path) -> None:
    damage_id, _ = _damaged(site, tmp_path)
    start = threading.Barrier(2)
    results: list[object] = []

    def attempt() -> None:
        start.wait()
        try:
            results.append(
                repair_damage(
                    site.factory,
                    damage_id,
                    [LocalStoreSource(site.factory)],
                    retry_after=timedelta(0),
                ).state
            )
        except Exception as exc:  # the loser may be told it was settled meanwhile
            results.append(type(exc).__name__)

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert DamageState.REPAIRED in results, results
    [record] = damage_rows(site)
    assert record.state is DamageState.REPAIRED
    with site.session() as session:
        assert session.scalar(select(func.count()).select_from(Instance)) == 2
    assert [p.read_bytes() == DATA for _, _, p in copies(site, "f/a")] == [True, True]
    for store_root in {p.parents[2] for _, _, p in copies(site, "f/a")}:
        assert not list((store_root / "staging").iterdir())
        files = [f for f in (store_root / "files").rglob("*") if f.is_file()]
        assert len(files) == 1, files
