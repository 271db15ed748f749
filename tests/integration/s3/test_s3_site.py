"""A site storing in a Swift bucket: uploads, bundles, downloads, audits, repair, tiering."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from librarian_client.models import API_PREFIX, CopyState, DamageState, Finding
from librarian_server.orm import Damage, File, Instance, Store, utcnow
from librarian_server.services.integrity.audit import AuditPolicy
from librarian_server.services.integrity.tiering import move_copy
from librarian_server.stores.s3 import FILES
from tests.integration.conftest import Site
from tests.integration.helpers import md5, posix_backend, stage, upload
from tests.integration.integrity.helpers import audit, damage_rows, download, flip_byte, repair
from tests.integration.s3.conftest import MIB, put_on_s3, s3_backend_of, store_ids
from tests.swift import SwiftNode

EVERYTHING_DUE = AuditPolicy(period=timedelta(0), walk_every=timedelta(0), dark_after=timedelta(0))


def instances(site: Site, name: str) -> list[tuple[int, str, str]]:
    """(instance id, store name, store path) of each copy of ``name``, oldest first."""
    with site.session() as session:
        return [
            (i.id, i.store.name, i.path)
            for i in session.scalars(
                select(Instance).where(Instance.file_name == name).order_by(Instance.id)
            )
        ]


def objects(site: Site, store_id: int) -> list[str]:
    return [path for path, _ in s3_backend_of(site, store_id).walk()]


def test_uploads_bundles_downloads_and_search_on_a_bucket(
    s3_site: tuple[Site, int], tmp_path: Path
) -> None:
    site, store_id = s3_site
    big = os.urandom(12 * MIB + 7)  # three parts of 5 MiB, the last short
    (tmp_path / "big.dat").write_bytes(big)
    small = {f"many/{n:03d}.txt": f"file {n}\n".encode() * (n + 1) for n in range(150)}
    for name, data in small.items():
        (tmp_path / name.replace("/", "_")).write_bytes(data)
    with site.client() as client:
        client.upload(tmp_path / "big.dat", "obs/big.dat")
        results = client.upload_many(
            [(tmp_path / n.replace("/", "_"), n) for n in small], transfers=2
        )
        assert len(results) == 150
        found = sorted(f.name for f in client.search(prefix="many/"))
        assert found == sorted(small)
        client.download("obs/big.dat", tmp_path / "back.dat")
        info = client.info("obs/big.dat")
    assert (
        hashlib.sha256((tmp_path / "back.dat").read_bytes()).digest()
        == hashlib.sha256(big).digest()
    )
    assert [i.store for i in info.instances] == ["swift"]
    assert download(site, "many/007.txt") == small["many/007.txt"]
    r = site.http.get(
        f"{API_PREFIX}/download/obs/big.dat",
        headers={"Range": f"bytes={6 * MIB}-{6 * MIB + 999}"},
        auth=site.auth("reader"),
    )
    assert r.status_code == 206 and r.content == big[6 * MIB : 6 * MIB + 1000]
    # Every file is one object under files/, nothing else is left behind.
    paths = {p for _, _, p in instances(site, "obs/big.dat")}
    for name in small:
        paths |= {p for _, _, p in instances(site, name)}
    assert sorted(objects(site, store_id)) == sorted(paths)
    backend = s3_backend_of(site, store_id)
    assert not backend.staging_entries(), "the spool is empty once files are committed"
    assert not backend.client.list_multipart_uploads(Bucket=backend.bucket).get("Uploads")
    with site.session() as session:
        store = session.get_one(Store, store_id)
        assert store.used_bytes == len(big) + sum(len(d) for d in small.values())


def test_a_bad_checksum_leaves_no_object_and_no_file(s3_site: tuple[Site, int]) -> None:
    site, store_id = s3_site
    data = os.urandom(6 * MIB)
    r = stage(site.http, site.auth(), [{"name": "bad/x", "size": len(data)}])
    transfer = r.json()["transfers"][0]
    assert site.http.put(transfer["put_path"], content=data, auth=site.auth()).status_code == 200
    r = site.http.post(
        f"{API_PREFIX}/upload/commit",
        json={"files": [{"transfer_id": transfer["transfer_id"], "checksum": md5(b"other")}]},
        auth=site.auth(),
    )
    assert r.status_code == 422, r.text
    with site.session() as session:
        assert session.get(File, "bad/x") is None
    assert objects(site, store_id) == []
    assert not s3_backend_of(site, store_id).staging_entries()


def test_audit_finds_an_object_changed_in_swift_and_repair_restores_it_from_posix(
    make_site: Callable[..., Site], swift_node: SwiftNode, swift_bucket: str
) -> None:
    site = make_site()
    data = os.urandom(2 * MIB + 5)
    upload(site.http, site.auth(), "obs/a.g3", data)  # on the site's POSIX store
    swift = put_on_s3(site, swift_node, swift_bucket)
    [(posix_id, _, _)] = instances(site, "obs/a.g3")
    with site.session() as session:
        posix_store = session.get_one(Instance, posix_id).store
        posix = posix_backend(posix_store)
        kept = posix.local_path(session.get_one(Instance, posix_id).path).read_bytes()
    assert kept == data
    outcome = move_copy(site.factory, posix_id, swift)
    assert outcome.moved, outcome.reason
    [(s3_id, store, s3_path)] = instances(site, "obs/a.g3")
    assert store == "swift"
    verified = site.http.post(
        f"{API_PREFIX}/verify", json={"names": ["obs/a.g3"]}, auth=site.auth("admin")
    )
    assert verified.status_code == 200, verified.text
    assert [(c["store"], c["finding"]) for c in verified.json()["copies"]] == [("swift", "ok")]

    # Change the object's bytes behind the Librarian's back, in Swift's own data file.
    [data_file] = swift_node.data_files(swift_bucket, FILES + s3_path)
    flip_byte(data_file, 1000)
    found = audit(site, EVERYTHING_DUE)
    assert found.damaged == 1, found
    [record] = damage_rows(site)
    assert (record.kind, record.instance_id) == (Finding.CORRUPT, s3_id)
    assert "hashes to" in record.detail

    # Nothing else here holds it: the repair has no source, and the file is lost, untouched.
    assert repair(site) == ["lost"]
    # Put a good copy back on POSIX by hand (as an operator restoring from elsewhere).
    with site.factory.begin() as session:
        path = posix.path_for("obs/a.g3", "restored")
        target = posix.local_path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        session.add(
            Instance(
                file_name="obs/a.g3",
                store_id=posix_store.id,
                path=path,
                available=True,
                verified_time=utcnow(),
                verified_result=CopyState.OK,
                verified_by="restored",
            )
        )
    with site.factory.begin() as session:
        session.get_one(Damage, record.id).next_attempt_time = None
    assert repair(site) == ["repaired"]
    now = instances(site, "obs/a.g3")
    assert {s for _, s, _ in now} == {"swift", posix_store.name}
    [(_, _, new_path)] = [c for c in now if c[1] == "swift"]
    assert new_path != s3_path
    with s3_backend_of(site, swift).open_read(new_path) as handle:
        assert handle.read() == data
    # Swift itself quarantined the object when a read found its ETag wrong; its listing
    # may name it a while longer, but it is gone.
    assert not s3_backend_of(site, swift).exists(s3_path), "the bad object is gone"
    assert damage_rows(site)[-1].state is DamageState.REPAIRED


def test_a_missing_and_a_dark_object_are_found_by_the_walk(s3_site: tuple[Site, int]) -> None:
    site, store_id = s3_site
    upload(site.http, site.auth(), "w/gone", b"will vanish")
    upload(site.http, site.auth(), "w/kept", b"stays")
    [(_, _, gone_path)] = instances(site, "w/gone")
    backend = s3_backend_of(site, store_id)
    backend.delete(gone_path)
    backend.client.put_object(Bucket=backend.bucket, Key=FILES + "zzz/stray", Body=b"?")
    time.sleep(1.5)  # Swift lists modification times rounded up to the next second
    found = audit(site, EVERYTHING_DUE)
    kinds = sorted((d.kind, d.path) for d in damage_rows(site))
    assert kinds == sorted([(Finding.MISSING, gone_path), (Finding.DARK, "zzz/stray")]), kinds
    assert found.dark == 1 and found.damaged >= 1
    assert download(site, "w/kept") == b"stays"


def test_tiering_moves_copies_from_posix_to_the_bucket_and_back(
    s3_site: tuple[Site, int],
) -> None:
    site, swift = s3_site
    posix = store_ids(site)
    (local_name,) = [n for n in posix if n != "swift"]
    with site.factory.begin() as session:  # uploads go to POSIX for this test
        session.get_one(Store, posix[local_name]).accepts_ingest = True
        session.get_one(Store, swift).accepts_ingest = False
    data = os.urandom(7 * MIB)
    upload(site.http, site.auth(), "t/f", data)
    [(first, store, posix_path)] = instances(site, "t/f")
    assert store == local_name
    assert move_copy(site.factory, first, swift).moved
    [(second, store, s3_path)] = instances(site, "t/f")
    assert store == "swift" and objects(site, swift) == [s3_path]
    with site.session() as session:
        assert not posix_backend(session.get_one(Store, posix[local_name])).exists(posix_path)
    assert download(site, "t/f") == data
    assert move_copy(site.factory, second, posix[local_name]).moved
    [(_, store, _)] = instances(site, "t/f")
    assert store == local_name and objects(site, swift) == []
    assert download(site, "t/f") == data
    assert not s3_backend_of(site, swift).staging_entries()


def test_a_second_upload_of_the_same_file_leaves_one_object(s3_site: tuple[Site, int]) -> None:
    site, store_id = s3_site
    data = os.urandom(6 * MIB)
    r = stage(site.http, site.auth(), [{"name": "twice/x", "size": len(data)}])
    first = r.json()["transfers"][0]
    r = stage(site.http, site.auth(), [{"name": "twice/x", "size": len(data)}])
    second = r.json()["transfers"][0]
    for t in (first, second):
        assert site.http.put(t["put_path"], content=data, auth=site.auth()).status_code == 200
    for t in (first, second):  # the second finds the name committed with the same bytes
        r = site.http.post(
            f"{API_PREFIX}/upload/commit",
            json={"files": [{"transfer_id": t["transfer_id"], "checksum": md5(data)}]},
            auth=site.auth(),
        )
        assert r.status_code == 200, r.text
    assert len(instances(site, "twice/x")) == 1
    assert objects(site, store_id) == [p for _, _, p in instances(site, "twice/x")]
    assert not s3_backend_of(site, store_id).staging_entries()
