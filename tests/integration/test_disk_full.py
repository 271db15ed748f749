"""Full disks answer 507 (and a locked SQLite 503), never 500, and leave nothing behind.

The store's disk is a real 2 MiB tmpfs and the catalogue's is made full for real
(SQLite: ``max_page_count``; PostgreSQL: the tables moved to a tablespace on a
small tmpfs). Mounting needs root; without it these tests skip and say so.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, event, make_url, select

from librarian_client.models import TransferStatus
from librarian_server.orm import File, IncomingTransfer
from tests import pg
from tests.integration.conftest import Site
from tests.integration.helpers import md5, stage

KiB = 1 << 10


def mount_tmpfs(path: Path, size: str) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a small tmpfs (`mount -t tmpfs`); run as root")
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=True)


def umount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], check=False)


@pytest.fixture
def small_store(tmp_path: Path) -> Iterator[Path]:
    """The default store's directory on a 2 MiB tmpfs (mounted before the site exists)."""
    store = tmp_path / "data" / "store"
    mount_tmpfs(store, "2m")
    yield store
    umount(store)


def fill(disk: Path, leave: int) -> Path:
    """A file that takes all but ``leave`` bytes of the disk's free space."""
    filler = disk / "filler"
    with open(filler, "wb") as handle:
        handle.write(b"\0" * max(shutil.disk_usage(disk).free - leave, 0))
    return filler


def transfer_status(site: Site, transfer_id: int) -> TransferStatus:
    with site.session() as s:
        row = s.get(IncomingTransfer, transfer_id)
        assert row is not None
        return row.status


def staging(site: Site) -> list[Path]:
    return list((site.settings.store_dir / "staging").iterdir())


def test_disk_full_during_put_is_507_and_the_upload_can_resume(
    small_store: Path, make_site: Callable[..., Site]
) -> None:
    site = make_site()
    data = os.urandom(600 * KiB)
    t = stage(site.http, site.auth(), [{"name": "big", "size": len(data), "checksum": md5(data)}])
    assert t.status_code == 200, t.text
    transfer = t.json()["transfers"][0]
    filler = fill(small_store, 100 * KiB)

    r = site.http.put(transfer["put_path"], content=data, auth=site.auth())
    assert r.status_code == 507, r.text
    assert "disk filled" in r.json()["reason"] and "Free space" in r.json()["suggested_remedy"]
    assert staging(site) == []  # the partial bytes are gone at once
    assert transfer_status(site, transfer["transfer_id"]) == TransferStatus.INITIATED

    filler.unlink()  # room again: the same transfer takes the bytes
    assert site.http.put(transfer["put_path"], content=data, auth=site.auth()).status_code == 200
    r = site.http.post(
        "/api/v2/upload/commit",
        json={"files": [{"transfer_id": transfer["transfer_id"]}]},
        auth=site.auth(),
    )
    assert r.status_code == 200, r.text


def test_disk_full_during_a_bundle_is_507_and_unlinks_what_it_wrote(
    small_store: Path, make_site: Callable[..., Site]
) -> None:
    site = make_site()
    files = {f"b/{i}": os.urandom(200 * KiB) for i in range(3)}
    r = stage(
        site.http,
        site.auth(),
        [{"name": n, "size": len(b), "checksum": md5(b)} for n, b in files.items()],
    )
    ids = [t["transfer_id"] for t in r.json()["transfers"]]
    fill(small_store, 300 * KiB)  # the first file fits, the second does not
    header = json.dumps({"transfer_ids": ids}).encode() + b"\n"
    r = site.http.post(
        "/api/v2/upload/bundle", content=header + b"".join(files.values()), auth=site.auth()
    )
    assert r.status_code == 507, r.text
    assert staging(site) == []
    assert {transfer_status(site, i) for i in ids} == {TransferStatus.INITIATED}


def staged_batch(site: Site, count: int) -> list[dict[str, Any]]:
    """``count`` files with long names, staged and written into staging."""
    items = {"/".join(["n" * 200] * 2) + f"/{i:04d}": f"bytes {i}".encode() for i in range(count)}
    r = stage(
        site.http,
        site.auth(),
        [{"name": n, "size": len(b), "checksum": md5(b)} for n, b in items.items()],
    )
    assert r.status_code == 200, r.text
    transfers: list[dict[str, Any]] = r.json()["transfers"]
    for t in transfers:
        Path(t["local_path"]).write_bytes(items[t["name"]])
    return transfers


def commit(site: Site, transfers: list[dict[str, Any]]) -> Any:
    return site.http.post(
        "/api/v2/upload/commit",
        json={"files": [{"transfer_id": t["transfer_id"]} for t in transfers]},
        auth=site.auth(),
    )


def app_engine(site: Site) -> Engine:
    engine: Engine = site.http.app.state.engine  # type: ignore[attr-defined]
    return engine


@pytest.fixture
def full_catalogue(site: Site, tmp_path: Path) -> Iterator[Callable[[bool], None]]:
    """``full(True)`` makes the catalogue's disk full for real; ``full(False)`` frees it."""
    engine = app_engine(site)
    if engine.dialect.name == "sqlite":
        limit = {"pages": 1 << 30}

        def on_checkout(dbapi: sqlite3.Connection, *_: Any) -> None:
            dbapi.execute(f"PRAGMA max_page_count = {limit['pages']}")

        event.listen(engine, "checkout", on_checkout)

        def full(on: bool) -> None:
            with engine.connect() as conn:
                pages = conn.exec_driver_sql("PRAGMA page_count").scalar()
            limit["pages"] = int(pages or 0) if on else 1 << 30

        yield full
        event.remove(engine, "checkout", on_checkout)
        return
    # PostgreSQL: the catalogue's tables on a tablespace whose disk is a tmpfs, in a
    # directory the postgres user can reach (pytest's tmp_path is private).
    disk = Path(tempfile.mkdtemp(prefix="librarian-tablespace-"))
    disk.chmod(0o755)
    mount_tmpfs(disk, "1m")
    try:
        shutil.chown(disk, "postgres", "postgres")
        with pg._admin_connect() as admin:
            admin.execute(f"CREATE TABLESPACE librarian_full LOCATION '{disk}'")
        try:
            yield from _pg_full(site, disk)
        finally:
            with pg._admin_connect() as admin:
                admin.execute("DROP TABLESPACE IF EXISTS librarian_full")
    finally:
        umount(disk)
        disk.rmdir()


def _pg_full(site: Site, disk: Path) -> Iterator[Callable[[bool], None]]:
    database = make_url(site.settings.sqlalchemy_url).database
    tables = ("files", "instances")
    with psycopg.connect(f"{pg.SERVER_URL}/{database}", autocommit=True) as conn:
        for table in tables:
            conn.execute(f"ALTER TABLE {table} SET TABLESPACE librarian_full")

        def full(on: bool) -> None:
            if not on:
                conn.execute("DROP TABLE IF EXISTS filler")
                return
            conn.execute("CREATE TABLE filler (x text) TABLESPACE librarian_full")
            try:
                while True:
                    conn.execute(
                        "INSERT INTO filler SELECT repeat(md5(random()::text), 64) "
                        "FROM generate_series(1, 200)"
                    )
            except psycopg.errors.DiskFull:
                pass

        try:
            yield full
        finally:
            conn.execute("DROP TABLE IF EXISTS filler")
            for table in tables:
                conn.execute(f"ALTER TABLE {table} SET TABLESPACE pg_default")


def test_catalogue_disk_full_at_commit_is_507_and_keeps_the_bytes_staged(
    site: Site, full_catalogue: Callable[[bool], None]
) -> None:
    transfers = staged_batch(site, 300)
    full_catalogue(True)
    r = commit(site, transfers)
    assert r.status_code == 507, r.text
    assert "catalogue's disk is full" in r.json()["reason"]
    assert len(staging(site)) == 300  # moved back: nothing is lost, nothing catalogued
    with site.session() as s:
        assert s.scalars(select(File.name)).first() is None
    full_catalogue(False)
    r = commit(site, transfers)
    assert r.status_code == 200, r.text
    assert staging(site) == []


def test_locked_sqlite_catalogue_is_503_with_retry_after(site: Site) -> None:
    engine = app_engine(site)
    if engine.dialect.name != "sqlite":
        pytest.skip("a database lock held past the busy timeout is SQLite's failure mode")
    transfers = staged_batch(site, 2)

    def short_wait(dbapi: sqlite3.Connection, *_: Any) -> None:
        dbapi.execute("PRAGMA busy_timeout = 200")

    event.listen(engine, "checkout", short_wait)
    holder = sqlite3.connect(make_url(site.settings.sqlalchemy_url).database or "")
    try:
        holder.execute("BEGIN IMMEDIATE")  # another writer that does not let go
        r = commit(site, transfers)
        assert r.status_code == 503, r.text
        assert r.headers["Retry-After"] == "5"
        assert "busy" in r.json()["reason"] and "Retry" in r.json()["suggested_remedy"]
        holder.rollback()
        assert commit(site, transfers).status_code == 200
    finally:
        holder.close()
        event.remove(engine, "checkout", short_wait)
