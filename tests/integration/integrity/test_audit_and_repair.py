"""The audit finds what is wrong with a site's copies and stores; repair puts it right
from another store, or declares the file lost without touching a byte."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from librarian_client.models import CopyState, DamageState, Finding
from librarian_server.orm import ErrorRecord, File, Instance
from librarian_server.services.integrity import dark
from librarian_server.services.integrity.damage import record_finding
from tests.integration.conftest import Site
from tests.integration.helpers import upload
from tests.integration.integrity.helpers import (
    WALK_ONLY,
    add_second_store,
    audit,
    copies,
    damage_rows,
    download,
    flip_byte,
    repair,
    second_copy,
    stray_file,
)

DATA = bytes(range(256)) * 4000  # ~1 MiB: more than one read chunk


def test_a_flipped_bit_is_found_and_repaired_from_another_store(site: Site, tmp_path: Path) -> None:
    upload(site.http, site.auth(), "obs/a.g3", DATA)
    slow = add_second_store(site, tmp_path)
    second_copy(site, "obs/a.g3", slow)
    (bad_id, store, bad_path), _ = copies(site, "obs/a.g3")
    flip_byte(bad_path, 123_456)

    found = audit(site)
    assert (found.rehashed, found.damaged) == (2, 1)
    [record] = damage_rows(site)
    assert (record.kind, record.state, record.file_name) == (
        Finding.CORRUPT,
        DamageState.OPEN,
        "obs/a.g3",
    )
    assert record.instance_id == bad_id and "hashes to" in record.detail
    # Until repaired, the good copy serves every read.
    assert download(site, "obs/a.g3") == DATA

    assert repair(site) == ["repaired"]
    [record] = damage_rows(site)
    assert record.state is DamageState.REPAIRED and not record.active
    assert record.resolution is not None and "store slow" in record.resolution
    assert record.quarantine_path is None
    now = copies(site, "obs/a.g3")
    assert {s for _, s, _ in now} == {store, "slow"} and bad_id not in {i for i, _, _ in now}
    for _, _, path in now:
        assert path.read_bytes() == DATA
    assert not bad_path.exists()
    quarantine = bad_path.parents[2] / "quarantine"
    assert not any(quarantine.iterdir()), "the bad bytes go once the new copy is committed"
    with site.session() as session:
        results = set(session.scalars(select(Instance.verified_result)))
    assert results == {CopyState.OK}
    # A second audit finds nothing new.
    assert audit(site).damaged == 0 and len(damage_rows(site)) == 1


def test_a_copy_deleted_by_hand_is_missing_and_repaired(site: Site, tmp_path: Path) -> None:
    upload(site.http, site.auth(), "obs/b.g3", DATA)
    slow = add_second_store(site, tmp_path)
    second_copy(site, "obs/b.g3", slow)
    _, _, path = copies(site, "obs/b.g3")[0]
    path.unlink()
    # Not due for a re-hash for a month: the walk of the store finds it gone.
    found = audit(site, WALK_ONLY)
    assert (found.rehashed, found.missing) == (0, 1)
    [record] = damage_rows(site)
    assert record.kind is Finding.MISSING
    assert repair(site) == ["repaired"]
    assert [p.read_bytes() == DATA for _, _, p in copies(site, "obs/b.g3")] == [True, True]


def test_a_stray_file_is_dark_reported_and_left_alone(site: Site) -> None:
    upload(site.http, site.auth(), "obs/c.g3", b"catalogued")
    stray = stray_file(site, "abc/feedface-left-behind", b"nobody's bytes")
    fresh = stray_file(site, "abc/feedfaff-just-committed", b"x", age_seconds=5)
    found = audit(site, WALK_ONLY)
    assert found.dark == 1 and found.damaged == 0
    [record] = damage_rows(site)
    assert (record.kind, record.state, record.path) == (
        Finding.DARK,
        DamageState.OPEN,
        "abc/feedface-left-behind",
    )
    assert stray.read_bytes() == b"nobody's bytes" and fresh.exists()
    assert repair(site) == [], "repair never acts on dark files"
    assert audit(site, WALK_ONLY).dark == 0 and len(damage_rows(site)) == 1
    assert stray.exists()


def test_an_operator_registers_quarantines_or_deletes_dark_files(site: Site) -> None:
    upload(site.http, site.auth(), "obs/known", b"known bytes")
    keep = stray_file(site, "abc/1-keep", b"worth keeping")
    copy = stray_file(site, "abc/2-copy", b"known bytes")
    aside = stray_file(site, "abc/3-aside", b"suspicious")
    gone = stray_file(site, "abc/4-gone", b"junk")
    audit(site, WALK_ONLY)
    ids = {Path(r.path).name: r.id for r in damage_rows(site)}
    by, name = "operator (ops)", site.settings.site_name

    info = dark.register_dark(site.factory, ids["1-keep"], "recovered/keep", by=by, site=name)
    assert info.state is DamageState.REGISTERED
    assert download(site, "recovered/keep") == b"worth keeping"
    info = dark.register_dark(site.factory, ids["2-copy"], "obs/known", by=by, site=name)
    assert "another copy" in (info.resolution or "")
    assert len(copies(site, "obs/known")) == 2
    info = dark.quarantine_dark(site.factory, ids["3-aside"], by=by)
    assert info.state is DamageState.QUARANTINED and not aside.exists()
    assert (aside.parents[2] / "quarantine" / f"dark{ids['3-aside']}-3-aside").exists()
    info = dark.delete_dark(site.factory, ids["4-gone"], by=by)
    assert info.state is DamageState.DELETED and not gone.exists()
    assert keep.exists() and copy.exists()
    assert not [r for r in damage_rows(site) if r.active]
    # Registered bytes are copies like any other now: the next walk finds nothing dark.
    assert audit(site, WALK_ONLY).dark == 0


def test_registering_under_a_name_with_other_contents_is_refused(site: Site) -> None:
    upload(site.http, site.auth(), "obs/taken", b"the real one")
    stray_file(site, "abc/impostor", b"something else")
    audit(site, WALK_ONLY)
    [record] = damage_rows(site)
    try:
        dark.register_dark(site.factory, record.id, "obs/taken", by="ops", site="s")
    except Exception as exc:
        assert "other contents" in str(exc)
    else:
        raise AssertionError("registering over other contents must fail")
    assert damage_rows(site)[0].state is DamageState.OPEN


def test_a_file_whose_every_copy_is_corrupt_is_lost_and_nothing_is_deleted(
    site: Site, tmp_path: Path
) -> None:
    upload(site.http, site.auth(), "obs/d.g3", DATA)
    slow = add_second_store(site, tmp_path)
    second_copy(site, "obs/d.g3", slow)
    paths = [p for _, _, p in copies(site, "obs/d.g3")]
    for path in paths:
        flip_byte(path, 1000)
    damaged = [p.read_bytes() for p in paths]
    assert audit(site).damaged == 2
    assert sorted(repair(site)) == ["lost", "lost"]
    assert {r.state for r in damage_rows(site)} == {DamageState.LOST}
    assert all(r.active for r in damage_rows(site))
    assert [p.read_bytes() for p in paths] == damaged, "bad copies are kept as they were"
    with site.session() as session:
        assert session.get(File, "obs/d.g3") is not None
        messages = list(session.scalars(select(ErrorRecord.message)))
    assert any("is lost" in m and "obs/d.g3" in m for m in messages)
    r = site.http.get("/api/v2/download/obs/d.g3", auth=site.auth("reader"))
    assert r.status_code >= 400, "a lost file is never served"


def test_repair_of_a_file_deleted_meanwhile_ends_gone(site: Site) -> None:
    upload(site.http, site.auth(), "obs/e", b"soon gone")
    _, _, path = copies(site, "obs/e")[0]
    flip_byte(path, 2)
    audit(site)
    r = site.http.post(
        "/api/v2/delete",
        json={"names": ["obs/e"], "force": True, "last_copy": True},
        auth=site.auth("admin"),
    )
    if r.status_code != 200:  # whatever the deletion API wants, the catalogue row goes
        with site.factory.begin() as session:
            session.delete(session.get_one(File, "obs/e"))
    assert repair(site) == ["gone"]


def test_one_finding_is_recorded_once_however_often_it_is_found(site: Site) -> None:
    upload(site.http, site.auth(), "obs/f", b"f")
    with site.factory.begin() as session:
        store_id = session.scalars(select(Instance.store_id)).one()
        first = record_finding(
            session, store_id=store_id, path="x/y", kind=Finding.DARK, found_by="t"
        )
        again = record_finding(
            session, store_id=store_id, path="x/y", kind=Finding.DARK, found_by="t"
        )
    assert first is not None and again is None
    assert len(damage_rows(site)) == 1
