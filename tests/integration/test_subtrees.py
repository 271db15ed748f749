"""The catalogue's renames and its one used-bytes counter, on SQLite and PostgreSQL.

VOSpace moves nodes through these; here they are called directly, on files that went
through the real upload pipeline into a real store.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import insert, select

from librarian_server.orm import File, Instance, RemoteInstance, Store, utcnow
from librarian_server.services.catalogue import subtrees
from librarian_server.services.catalogue.stores import add_used_bytes
from tests.integration.conftest import Site
from tests.integration.helpers import md5, upload

FILES = {"obs/a/1.dat": b"one", "obs/a/b/2.dat": b"two!!", "obs/ab.dat": b"sibling"}


def _fill(site: Site) -> None:
    for name, data in FILES.items():
        upload(site.http, site.auth(), name, data)


def _used(site: Site) -> int:
    with site.session() as s:
        return s.scalars(select(Store)).one().used_bytes


def _stored(site: Site) -> dict[str, Path]:
    with site.session() as s:
        rows = s.execute(select(Instance.file_name, Instance.path)).all()
    return {name: site.settings.store_dir / "files" / path for name, path in rows}


def _names(site: Site) -> set[str]:
    with site.session() as s:
        return set(s.scalars(select(File.name)))


def test_used_bytes_count_every_upload_and_add_up(site: Site) -> None:
    _fill(site)
    total = sum(len(d) for d in FILES.values())
    assert _used(site) == total
    with site.factory.begin() as s:
        store_id = s.scalars(select(Store.id)).one()
        add_used_bytes(s, {store_id: 10})
        add_used_bytes(s, {store_id: -4, store_id + 1000: 0})
    assert _used(site) == total + 6


def test_one_file_is_deleted_with_its_bytes_and_count(site: Site) -> None:
    _fill(site)
    path = _stored(site)["obs/a/1.dat"]
    with site.factory.begin() as s:
        file = s.get(File, "obs/a/1.dat")
        assert file is not None
        subtrees.delete_file(s, file)
    assert _names(site) == set(FILES) - {"obs/a/1.dat"}
    assert not path.exists()
    assert _used(site) == sum(len(d) for d in FILES.values()) - 3


def test_a_rename_below_moves_names_not_bytes(site: Site) -> None:
    _fill(site)
    before, used = _stored(site), _used(site)
    with site.factory.begin() as s:
        s.execute(
            insert(RemoteInstance).values(file_name="obs/a/1.dat", site="ucsd", copy_time=utcnow())
        )
    with site.factory.begin() as s:
        subtrees.rename_below(s, "obs/a", "new/place")
    assert _names(site) == {"new/place/1.dat", "new/place/b/2.dat", "obs/ab.dat"}
    after = _stored(site)
    assert after["new/place/1.dat"] == before["obs/a/1.dat"]
    assert after["new/place/b/2.dat"] == before["obs/a/b/2.dat"]
    assert after["new/place/1.dat"].read_bytes() == b"one"
    assert _used(site) == used
    with site.session() as s:
        moved = s.get(File, "new/place/1.dat")
        assert moved is not None and moved.checksum == md5(b"one")
        # The peer holds it under the old name: replication sends it again.
        assert s.scalars(select(RemoteInstance)).all() == []


def test_a_file_rename_is_that_name_only(site: Site) -> None:
    _fill(site)
    with site.factory.begin() as s:
        subtrees.rename_file(s, "obs/ab.dat", "obs/z.dat")
    assert _names(site) == {"obs/z.dat", "obs/a/1.dat", "obs/a/b/2.dat"}
    assert _stored(site)["obs/z.dat"].read_bytes() == b"sibling"
