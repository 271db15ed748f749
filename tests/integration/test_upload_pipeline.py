"""The stage -> bytes -> commit pipeline over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select

from librarian_client.models import TransferStatus
from librarian_server.orm import ErrorRecord, File, IncomingTransfer, Instance, Store
from tests.integration.conftest import Site
from tests.integration.helpers import md5, stage, upload


def staging_entries(site: Site) -> list[Path]:
    return list((site.settings.store_dir / "staging").iterdir())


def file_count(site: Site) -> int:
    with site.session() as s:
        return s.scalar(select(func.count()).select_from(File)) or 0


def test_upload_commits_file_instance_and_bytes(site: Site) -> None:
    data = os.urandom(300_000)
    committed = upload(site.http, site.auth(), "obs/run1/a.g3", data)
    assert committed["checksum"] == md5(data) and committed["size"] == len(data)
    with site.session() as s:
        file = s.get(File, "obs/run1/a.g3")
        assert file is not None and file.uploader == "writer" and file.source == "librarian"
        (instance,) = s.scalars(select(Instance)).all()
        store = s.get(Store, instance.store_id)
        assert store is not None and store.used_bytes == len(data)
        transfer = s.scalars(select(IncomingTransfer)).one()
        assert transfer.status == TransferStatus.COMPLETED
    on_disk = site.settings.store_dir / "files" / instance.path
    assert on_disk.read_bytes() == data
    assert staging_entries(site) == []


def test_put_response_carries_digest_header(site: Site) -> None:
    r = stage(site.http, site.auth(), [{"name": "d.bin", "size": 3}])
    t = r.json()["transfers"][0]
    r = site.http.put(t["put_path"], content=b"abc", auth=site.auth())
    assert r.headers["Digest"] == "md5=kAFQmDzST7DWlj99KOF/cg=="
    assert r.json()["checksum"] == md5(b"abc")


def test_batch_stage_and_commit(site: Site) -> None:
    blobs = {f"batch/{i:03d}.dat": os.urandom(4096) for i in range(50)}
    r = stage(site.http, site.auth(), [{"name": n, "size": len(b)} for n, b in blobs.items()])
    transfers = r.json()["transfers"]
    assert [t["name"] for t in transfers] == list(blobs)
    for t in transfers:
        assert site.http.put(t["put_path"], content=blobs[t["name"]], auth=site.auth()).is_success
    r = site.http.post(
        "/api/v2/upload/commit",
        json={
            "files": [
                {"transfer_id": t["transfer_id"], "checksum": md5(blobs[t["name"]])}
                for t in transfers
            ]
        },
        auth=site.auth(),
    )
    assert r.status_code == 200
    assert file_count(site) == 50


def test_local_copy_path_is_hashed_by_the_server(site: Site) -> None:
    data = b"copied by the client itself"
    r = stage(
        site.http, site.auth(), [{"name": "local/x", "size": len(data), "checksum": md5(data)}]
    )
    t = r.json()["transfers"][0]
    assert Path(t["store_marker"]).read_text().strip() == t["store_uuid"]
    Path(t["local_path"]).write_bytes(data)
    r = site.http.post(
        "/api/v2/upload/commit",
        json={"files": [{"transfer_id": t["transfer_id"]}]},
        auth=site.auth(),
    )
    assert r.status_code == 200, r.text
    assert r.json()["files"][0]["checksum"] == md5(data)


def test_local_copy_with_wrong_bytes_is_rejected(site: Site) -> None:
    data = b"what the client promised"
    r = stage(
        site.http, site.auth(), [{"name": "local/y", "size": len(data), "checksum": md5(data)}]
    )
    t = r.json()["transfers"][0]
    Path(t["local_path"]).write_bytes(b"X" * len(data))
    r = site.http.post(
        "/api/v2/upload/commit",
        json={"files": [{"transfer_id": t["transfer_id"]}]},
        auth=site.auth(),
    )
    assert r.status_code == 422
    assert "checksum mismatch" in r.json()["reason"]
    assert file_count(site) == 0 and staging_entries(site) == []


def test_duplicate_with_same_checksum_is_idempotent(site: Site) -> None:
    data = b"same bytes"
    upload(site.http, site.auth(), "dup/a", data)
    r = stage(site.http, site.auth(), [{"name": "dup/a", "size": len(data), "checksum": md5(data)}])
    assert r.status_code == 200
    assert r.json()["transfers"][0]["outcome"] == "already_present"
    r = stage(site.http, site.auth(), [{"name": "dup/a", "size": len(data)}])
    t = r.json()["transfers"][0]
    assert t["outcome"] == "exists" and t["existing_checksum"] == md5(data)
    assert staging_entries(site) == []


def test_duplicate_with_different_checksum_is_409(site: Site) -> None:
    upload(site.http, site.auth(), "dup/b", b"first")
    r = stage(site.http, site.auth(), [{"name": "dup/b", "size": 6, "checksum": md5(b"second")}])
    assert r.status_code == 409
    body = r.json()
    assert "already exists" in body["reason"] and body["suggested_remedy"]


def test_concurrent_stage_of_same_name_second_commit_409(site: Site) -> None:
    auth = site.auth()
    r1 = stage(site.http, auth, [{"name": "race", "size": 1}]).json()["transfers"][0]
    r2 = stage(site.http, auth, [{"name": "race", "size": 1}]).json()["transfers"][0]
    site.http.put(r1["put_path"], content=b"a", auth=auth)
    site.http.put(r2["put_path"], content=b"b", auth=auth)
    ok = site.http.post(
        "/api/v2/upload/commit",
        auth=auth,
        json={"files": [{"transfer_id": r1["transfer_id"], "checksum": md5(b"a")}]},
    )
    assert ok.status_code == 200
    clash = site.http.post(
        "/api/v2/upload/commit",
        auth=auth,
        json={"files": [{"transfer_id": r2["transfer_id"], "checksum": md5(b"b")}]},
    )
    assert clash.status_code == 409
    with site.session() as s:
        assert s.get(File, "race").checksum == md5(b"a")  # type: ignore[union-attr]


def test_lying_checksum_rejected_at_put_and_nothing_left(site: Site) -> None:
    data = b"the real bytes"
    r = stage(
        site.http, site.auth(), [{"name": "lie/c", "size": len(data), "checksum": md5(b"other")}]
    )
    t = r.json()["transfers"][0]
    r = site.http.put(t["put_path"], content=data, auth=site.auth())
    assert r.status_code == 422
    assert "checksum mismatch" in r.json()["reason"]
    assert file_count(site) == 0 and staging_entries(site) == []
    with site.session() as s:
        transfer = s.get(IncomingTransfer, t["transfer_id"])
        assert transfer is not None and transfer.status == TransferStatus.FAILED
        assert "checksum mismatch" in (transfer.error or "")
        assert s.scalar(select(func.count()).select_from(ErrorRecord)) == 1
    # the failed transfer can't be committed, and a fresh upload works
    r = site.http.post(
        "/api/v2/upload/commit",
        auth=site.auth(),
        json={"files": [{"transfer_id": t["transfer_id"], "checksum": md5(data)}]},
    )
    assert r.status_code == 400 and "FAILED" in r.json()["reason"]
    upload(site.http, site.auth(), "lie/c", data)


def test_lying_checksum_at_commit_rejected(site: Site) -> None:
    data = b"bytes"
    t = stage(site.http, site.auth(), [{"name": "lie/d", "size": 5}]).json()["transfers"][0]
    site.http.put(t["put_path"], content=data, auth=site.auth())
    r = site.http.post(
        "/api/v2/upload/commit",
        auth=site.auth(),
        json={"files": [{"transfer_id": t["transfer_id"], "checksum": md5(b"nope!")}]},
    )
    assert r.status_code == 422
    assert file_count(site) == 0 and staging_entries(site) == []


@pytest.mark.parametrize("sent", [b"short", b"much longer than declared"])
def test_lying_size_rejected(site: Site, sent: bytes) -> None:
    t = stage(site.http, site.auth(), [{"name": "lie/size", "size": 10}]).json()["transfers"][0]
    r = site.http.put(t["put_path"], content=sent, auth=site.auth())
    assert r.status_code == 422
    reason = r.json()["reason"]
    assert "size mismatch" in reason or "more bytes" in reason
    assert file_count(site) == 0 and staging_entries(site) == []


def test_commit_without_any_checksum_is_rejected(site: Site) -> None:
    t = stage(site.http, site.auth(), [{"name": "nochk", "size": 1}]).json()["transfers"][0]
    site.http.put(t["put_path"], content=b"x", auth=site.auth())
    r = site.http.post(
        "/api/v2/upload/commit",
        auth=site.auth(),
        json={"files": [{"transfer_id": t["transfer_id"]}]},
    )
    assert r.status_code == 422 and "no checksum" in r.json()["reason"]


@pytest.mark.parametrize(
    "name",
    [
        "../etc/passwd",
        "a/../b",
        "/abs/path",
        "a//b",
        "a/./b",
        "trailing/",
        "nul\x00byte",
        "ctrl\x07bell",
        "tab\there",
        "back\\slash",
        "",
        "x" * 1100,
        "seg/" + "y" * 300,
    ],
)
def test_bad_names_are_400_and_leave_nothing(site: Site, name: str) -> None:
    r = stage(site.http, site.auth(), [{"name": name, "size": 1}])
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["reason"] and body["suggested_remedy"]
    with site.session() as s:
        assert s.scalar(select(func.count()).select_from(IncomingTransfer)) == 0
    assert staging_entries(site) == []


def test_a_bad_name_rejects_the_whole_batch(site: Site) -> None:
    r = stage(site.http, site.auth(), [{"name": "good", "size": 1}, {"name": "../bad", "size": 1}])
    assert r.status_code == 400
    with site.session() as s:
        assert s.scalar(select(func.count()).select_from(IncomingTransfer)) == 0


def test_unauthenticated_writes_are_401(site: Site) -> None:
    assert (
        stage(site.http, ("writer", "wrong password"), [{"name": "a", "size": 1}]).status_code
        == 401
    )
    r = site.http.post("/api/v2/upload/stage", json={"files": [{"name": "a", "size": 1}]})
    assert r.status_code == 401 and "WWW-Authenticate" in r.headers
    assert site.http.put("/api/v2/upload/1", content=b"x").status_code == 401
    assert (
        site.http.post("/api/v2/upload/commit", json={"files": [{"transfer_id": 1}]}).status_code
        == 401
    )


def test_read_only_user_cannot_upload(site: Site) -> None:
    r = stage(site.http, site.auth("reader"), [{"name": "a", "size": 1}])
    assert r.status_code == 403
    assert "read-only" in r.json()["reason"]


def test_other_users_transfer_is_forbidden(site: Site) -> None:
    t = stage(site.http, site.auth(), [{"name": "mine", "size": 1}]).json()["transfers"][0]
    with site.session() as s:
        from librarian_client.models import PermissionLevel
        from librarian_server.services.accounts.auth import create_user

        create_user(s, "writer2", "another password", PermissionLevel.READAPPEND)
        s.commit()
    r = site.http.put(t["put_path"], content=b"x", auth=("writer2", "another password"))
    assert r.status_code == 403


def test_store_full_is_507_and_leaves_nothing(make_site: Callable[..., Site]) -> None:
    site = make_site(default_store_capacity_bytes=1000)
    upload(site.http, site.auth(), "fits", b"x" * 600)
    r = stage(site.http, site.auth(), [{"name": "too-big", "size": 500}])
    assert r.status_code == 507
    assert "room" in r.json()["reason"]
    # in-flight uploads count against the room too
    ok = stage(site.http, site.auth(), [{"name": "fits2", "size": 300}])
    assert ok.status_code == 200
    assert stage(site.http, site.auth(), [{"name": "fits3", "size": 200}]).status_code == 507
    with site.session() as s:
        assert s.scalar(select(func.count()).select_from(IncomingTransfer)) == 2


def test_commit_retry_after_lost_answer_is_idempotent(site: Site) -> None:
    data = b"retry me"
    t = stage(site.http, site.auth(), [{"name": "retry", "size": len(data)}]).json()["transfers"][0]
    site.http.put(t["put_path"], content=data, auth=site.auth())
    body = {"files": [{"transfer_id": t["transfer_id"], "checksum": md5(data)}]}
    first = site.http.post("/api/v2/upload/commit", json=body, auth=site.auth())
    again = site.http.post("/api/v2/upload/commit", json=body, auth=site.auth())
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert file_count(site) == 1


def test_cancel_releases_bytes_and_room(make_site: Callable[..., Site]) -> None:
    site = make_site(default_store_capacity_bytes=1000)
    t = stage(site.http, site.auth(), [{"name": "c/1", "size": 900}]).json()["transfers"][0]
    site.http.put(t["put_path"], content=b"x" * 900, auth=site.auth())
    assert stage(site.http, site.auth(), [{"name": "c/2", "size": 900}]).status_code == 507
    ids = {"transfer_ids": [t["transfer_id"]]}
    assert (
        site.http.post("/api/v2/upload/cancel", json=ids, auth=site.auth("reader")).status_code
        == 403
    )
    r = site.http.post("/api/v2/upload/cancel", json=ids, auth=site.auth())
    assert r.status_code == 200 and r.json()["cancelled"] == [t["transfer_id"]]
    again = site.http.post("/api/v2/upload/cancel", json=ids, auth=site.auth())
    assert again.json()["cancelled"] == []  # idempotent
    assert staging_entries(site) == []
    assert stage(site.http, site.auth(), [{"name": "c/2", "size": 900}]).status_code == 200
    with site.session() as s:
        transfer = s.get(IncomingTransfer, t["transfer_id"])
        assert transfer is not None and transfer.status == TransferStatus.CANCELLED


def test_idle_uploads_expire(make_site: Callable[..., Site]) -> None:
    from librarian_server.services.site.maintenance import expire_idle_uploads

    site = make_site(staging_timeout_seconds=1)
    t = stage(site.http, site.auth(), [{"name": "idle", "size": 5}]).json()["transfers"][0]
    assert expire_idle_uploads(site.factory, site.settings) == (0, 0)  # not idle yet
    import time

    time.sleep(1.2)
    assert expire_idle_uploads(site.factory, site.settings) == (1, 0)
    assert staging_entries(site) == []
    with site.session() as s:
        assert s.get(IncomingTransfer, t["transfer_id"]).status == TransferStatus.FAILED  # type: ignore[union-attr]


def test_two_batches_committing_the_same_files_both_succeed(site: Site) -> None:
    """Two uploaders race on the same names and bytes: both succeed, one File each."""
    from concurrent.futures import ThreadPoolExecutor

    blobs = {f"race/{i}": os.urandom(100) for i in range(40)}

    def one_upload(_: int) -> int:
        auth = site.auth()
        transfers = stage(site.http, auth, [{"name": n, "size": 100} for n in blobs]).json()[
            "transfers"
        ]
        for t in transfers:
            if t["outcome"] == "staged":
                site.http.put(t["put_path"], content=blobs[t["name"]], auth=auth)
        items = [
            {"transfer_id": t["transfer_id"], "checksum": md5(blobs[t["name"]])}
            for t in transfers
            if t["outcome"] == "staged"
        ]
        if not items:
            return 200
        return site.http.post("/api/v2/upload/commit", json={"files": items}, auth=auth).status_code

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(one_upload, range(4))) == [200] * 4
    assert file_count(site) == 40
    assert staging_entries(site) == []


def test_a_true_clash_at_commit_fails_and_cleans_the_whole_batch(site: Site) -> None:
    auth = site.auth()
    transfers = stage(site.http, auth, [{"name": "tc/a", "size": 1}, {"name": "tc/b", "size": 1}])
    a, b = transfers.json()["transfers"]
    for t in (a, b):
        site.http.put(t["put_path"], content=b"1", auth=auth)
    upload(site.http, auth, "tc/b", b"2")  # someone else takes tc/b with other bytes
    r = site.http.post(
        "/api/v2/upload/commit",
        auth=auth,
        json={"files": [{"transfer_id": t["transfer_id"], "checksum": md5(b"1")} for t in (a, b)]},
    )
    assert r.status_code == 409
    assert staging_entries(site) == []
    with site.session() as s:
        assert s.get(File, "tc/a") is None
        assert s.get(IncomingTransfer, a["transfer_id"]).status == TransferStatus.FAILED  # type: ignore[union-attr]


def test_a_staged_transfer_is_committed_before_the_answer(site: Site) -> None:
    """The answer to stage is only sent once the transaction is durable: another
    connection (a fresh session) must see the transfer the moment the client does."""
    for i in range(20):
        r = stage(site.http, site.auth(), [{"name": f"vis/{i}", "size": 1}])
        with site.session() as s:
            assert s.get(IncomingTransfer, r.json()["transfers"][0]["transfer_id"]) is not None
