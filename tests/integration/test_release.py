"""Release and tiering at one site: policies, moving old copies between stores, draining
and retiring a store. Real catalogue (SQLite and PostgreSQL), real store directories,
the real client and server commands; deleting with proofs from other sites is in
``test_release_multisite``."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from librarian_client.models import CopyState
from librarian_server.orm import Event, Instance, Store, utcnow
from librarian_server.services.catalogue.stores import add_store
from librarian_server.services.integrity.drain import drain_store
from tests.filesystems import small_filesystem
from tests.integration.conftest import Site
from tests.integration.helpers import upload
from tests.integration.server_cli import ServerCommand, server_command

OLD = {"old/a.dat": os.urandom(3000), "old/b.dat": os.urandom(5000)}
NEW = {"new/c.dat": os.urandom(700)}


Server = ServerCommand


@pytest.fixture
def site(make_site: Callable[..., Site], tmp_path: Path) -> Site:
    made = make_site()
    with made.factory.begin() as session:
        add_store(session, "slow", tmp_path / "slow", make_buckets=False)
    return made


@pytest.fixture
def server(
    site: Site,
    database_url: str | None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Server:
    """``librarian-server`` on the test site's catalogue."""
    return server_command(site, database_url, monkeypatch, capsys)


def _fill(site: Site, *, age_days: int = 40) -> None:
    """OLD uploaded ``age_days`` ago (as far as the catalogue knows), NEW just now."""
    for name, data in {**OLD, **NEW}.items():
        upload(site.http, site.auth(), name, data)
    with site.factory.begin() as session:
        session.execute(
            update(Instance)
            .where(Instance.file_name.in_(list(OLD)))
            .values(created_time=utcnow() - timedelta(days=age_days))
        )


def _copies(site: Site) -> dict[str, list[tuple[str, str | None]]]:
    """name -> [(store, verified_by)] for every instance."""
    with site.session() as session:
        found: dict[str, list[tuple[str, str | None]]] = {}
        for instance in session.scalars(select(Instance).order_by(Instance.id)):
            found.setdefault(instance.file_name, []).append(
                (instance.store.name, instance.verified_by)
            )
        return found


def _used(site: Site) -> dict[str, int]:
    with site.session() as session:
        return {s.name: s.used_bytes for s in session.scalars(select(Store))}


def _paths(site: Site, store: str) -> list[Path]:
    with site.session() as session:
        rows = session.scalars(
            select(Instance).join(Store).where(Store.name == store).order_by(Instance.id)
        ).all()
        return [Path(r.store.root) / "files" / r.path for r in rows]


def _download(site: Site, name: str) -> bytes:
    r = site.http.get(f"/api/v2/download/{name}", auth=site.auth("reader"))
    assert r.status_code == 200, r.text
    return r.content


def _tier(server: Server) -> None:
    ran = server("store-policy", "set", "local", "--after-days", "30", "--move-to", "slow")
    assert ran.code == 0, ran
    assert "after 30 d: move to slow" in ran.out


def test_a_policy_is_set_shown_in_the_store_list_and_cleared(site: Site, server: Server) -> None:
    _tier(server)
    ran = server(
        "store-policy", "set", "slow", "--after-days", "90", "--delete", "--copies", "2",
        "--proof-age-days", "7",
    )  # fmt: skip
    assert ran.code == 0, ran
    shown = json.loads(server("store-policy", "show", "--json").out)
    assert [(p["store"], p["action"]) for p in shown] == [("local", "move"), ("slow", "delete")]
    assert shown[1]["min_copies"] == 2 and shown[1]["allow_remote_only"] is False
    with site.client("admin") as client:
        policies = {s.name: s.policy for s in client.stores()}
    assert policies["local"] is not None and policies["local"].target_store == "slow"
    assert "policy" in server("stores").out.splitlines()[0]
    # A delete policy without its proofs is refused, as is moving to itself.
    assert server("store-policy", "set", "slow", "--after-days", "1", "--delete").code == 1
    assert server("store-policy", "set", "slow", "--after-days", "1", "--move-to", "slow").code == 1
    # A store others move copies to cannot be removed or retired under them.
    assert server("retire-store", "slow").code == 1
    assert "moves copies to 'slow'" in server("store", "remove", "slow").err
    assert server("store-policy", "clear", "local").code == 0
    assert "had no policy" in server("store-policy", "clear", "local").out
    with site.client("admin") as client:
        assert {s.name: s.policy for s in client.stores()}["local"] is None
    # Removing a store takes its own policy with it.
    assert server("store", "remove", "slow").code == 0
    assert json.loads(server("store-policy", "show", "--json").out) == []


def test_a_dry_run_lists_the_old_copies_and_changes_nothing(site: Site, server: Server) -> None:
    _fill(site)
    _tier(server)
    before, used = _copies(site), _used(site)
    with site.client("admin") as client:
        (page,) = list(client.release("local", dry_run=True))
    assert page.dry_run and page.released == 0
    assert [(c.name, c.releasable, c.released) for c in page.candidates] == [
        ("old/a.dat", True, False),
        ("old/b.dat", True, False),
    ]
    assert {c.reason for c in page.candidates} == {"move to slow"}
    assert _copies(site) == before and _used(site) == used


def test_tiering_moves_old_copies_verified_and_downloads_keep_working(
    site: Site, server: Server
) -> None:
    _fill(site)
    _tier(server)
    old_paths = _paths(site, "local")[:2]
    with site.client("admin") as client:
        pages = list(client.release("local", dry_run=False, page_size=1))
    assert sum(p.released for p in pages) == 2
    assert sum(p.released_bytes for p in pages) == sum(len(d) for d in OLD.values())
    copies = _copies(site)
    assert copies["old/a.dat"] == [("slow", "release (admin)")]
    assert copies["old/b.dat"] == [("slow", "release (admin)")]
    assert copies["new/c.dat"] == [("local", "commit")]
    with site.session() as session:
        moved = session.scalars(select(Instance).join(Store).where(Store.name == "slow")).all()
        assert {i.verified_result for i in moved} == {CopyState.OK}
        events = session.scalars(select(Event).where(Event.kind == "copy.moved")).all()
        assert sorted(e.subject for e in events) == sorted(OLD)
    assert _used(site) == {"local": len(NEW["new/c.dat"]), "slow": 8000}
    assert not any(p.exists() for p in old_paths)
    for name, data in {**OLD, **NEW}.items():
        assert _download(site, name) == data
    # A second pass finds nothing old left on the fast store.
    with site.client("admin") as client:
        (page,) = list(client.release("local", dry_run=True))
    assert page.candidates == []


def test_the_background_task_applies_the_policy(site: Site, server: Server) -> None:
    _fill(site)
    _tier(server)
    result = site.http.post("/api/v2/tasks/release/run", auth=site.auth("admin"))
    assert result.status_code == 200, result.text
    assert result.json()["summary"]["released"] == 2
    assert {s for copies in _copies(site).values() for s, _ in copies} == {"local", "slow"}
    assert _copies(site)["old/a.dat"][0][0] == "slow"


def _unchanged_after_failed_move(site: Site, before: dict[str, list[tuple[str, str | None]]], used: dict[str, int]) -> None:  # fmt: skip
    assert _copies(site) == before
    assert _used(site) == used
    for name, data in OLD.items():
        assert _download(site, name) == data
    staging = Path(site.settings.data_dir).parent / "slow" / "staging"
    assert not list(staging.iterdir()), "no staged bytes are left behind"


def test_a_target_that_cannot_commit_leaves_the_old_copy(
    site: Site, server: Server, tmp_path: Path
) -> None:
    """The target store's commit fails (its ``files`` directory is not a directory): the
    copy, verified, is never committed and the old copy is all there was, and is."""
    _fill(site)
    _tier(server)
    before, used = _copies(site), _used(site)
    files = tmp_path / "slow" / "files"
    files.rmdir()
    files.write_text("not a directory")
    with site.client("admin") as client:
        (page,) = list(client.release("local", dry_run=False))
    assert page.released == 0
    assert all("storing on slow failed" in c.reason for c in page.candidates), page
    _unchanged_after_failed_move(site, before, used)


def test_a_read_only_target_leaves_the_old_copy(site: Site, server: Server, tmp_path: Path) -> None:
    _fill(site)
    _tier(server)
    before, used = _copies(site), _used(site)
    files = tmp_path / "slow" / "files"
    with small_filesystem(files, 1 << 20):
        remounted = subprocess.run(
            ["mount", "-o", "remount,ro", str(files)], capture_output=True, text=True
        )
        if remounted.returncode != 0:
            pytest.skip(f"cannot remount read-only here: {remounted.stderr.strip()}")
        with site.client("admin") as client:
            (page,) = list(client.release("local", dry_run=False))
        assert page.released == 0
        _unchanged_after_failed_move(site, before, used)


def test_drain_moves_everything_and_retire_then_takes_the_store_out(
    site: Site, server: Server
) -> None:
    _fill(site)
    assert server("retire-store", "local").code == 1  # still holds copies
    ran = server("drain-store", "local", "--to", "slow", "--quiet")
    assert ran.code == 0, ran
    assert "moved 3 copies" in ran.out
    assert {s for copies in _copies(site).values() for s, _ in copies} == {"slow"}
    assert _used(site) == {"local": 0, "slow": 8700}
    for name, data in {**OLD, **NEW}.items():
        assert _download(site, name) == data
    ran = server("retire-store", "local")
    assert ran.code == 0, ran
    with site.client("admin") as client:
        local = {s.name: s for s in client.stores()}["local"]
    assert local.retired and not local.enabled
    assert server("store", "enable", "local").code == 1
    upload(site.http, site.auth(), "after/d.dat", b"lands on slow")
    assert _copies(site)["after/d.dat"] == [("slow", "commit")]


def test_a_drain_stopped_half_way_resumes(site: Site) -> None:
    _fill(site)
    seen: list[str] = []

    class Stop(Exception):
        pass

    def stop_after_one(name: str, size: int, outcome: object) -> None:
        seen.append(name)
        raise Stop

    with pytest.raises(Stop):
        drain_store(site.factory, "local", to="slow", progress=stop_after_one)
    assert len(seen) == 1
    stores = {n: {s for s, _ in c} for n, c in _copies(site).items()}
    assert stores[seen[0]] == {"slow"}
    assert sum(1 for s in stores.values() if s == {"local"}) == 2
    result = drain_store(site.factory, "local")  # the rest, to whichever store has room
    assert (result.total, result.moved, result.failed) == (2, 2, {})
    assert _used(site) == {"local": 0, "slow": 8700}


def test_retire_refuses_a_store_that_holds_copies(site: Site, server: Server) -> None:
    upload(site.http, site.auth(), "kept.dat", b"kept")
    ran = server("retire-store", "local")
    assert ran.code == 1
    assert "still holds 1 file instance" in ran.err
    assert "drain-store local" in ran.err
    assert server("retire-store", "slow").code == 0  # empty
    with site.client("admin") as client:
        assert not {s.name: s for s in client.stores()}["local"].retired
