"""The receiving side of the peer protocol, driven call by call over HTTP.

A peer account named after the sending site ("mountain") stages, sends and
commits batches; every call is keyed by the sender's transfer id.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from librarian_client.models import PermissionLevel
from librarian_server.orm import Checkin, File, IncomingTransfer, RemoteInstance
from librarian_server.services.accounts.auth import create_user
from librarian_server.services.replication.clone_receive import verify_deferred
from tests.integration.conftest import PASSWORD, Site
from tests.integration.helpers import md5, upload

PEER = ("mountain", PASSWORD)


@pytest.fixture
def receiver(make_site: Callable[..., Site]) -> Site:
    site = make_site(site_name="ucsd")
    with site.factory.begin() as session:
        create_user(session, "mountain", PASSWORD, PermissionLevel.PEER)
        create_user(session, "other", PASSWORD, PermissionLevel.PEER)
    return site


def _item(key: int, name: str, data: bytes, **extra: Any) -> dict[str, Any]:
    return {
        "source_transfer_id": key,
        "name": name,
        "size": len(data),
        "checksum": md5(data),
        "origin": "mountain",
        "uploader": "alice",
        **extra,
    }


def _stage(site: Site, files: list[dict[str, Any]], auth: tuple[str, str] = PEER) -> Any:
    return site.http.post(
        "/api/v2/clone/stage", json={"source": auth[0], "files": files}, auth=auth
    )


def _complete(site: Site, pairs: list[tuple[int, int]], manager: str = "http") -> Any:
    body = {
        "source": "mountain",
        "transfer_manager": manager,
        "files": [{"transfer_id": t, "source_transfer_id": k} for k, t in pairs],
    }
    return site.http.post("/api/v2/clone/complete", json=body, auth=PEER)


def _bundle(site: Site, ids: list[int], payload: bytes) -> Any:
    body = json.dumps({"transfer_ids": ids}).encode() + b"\n" + payload
    return site.http.post("/api/v2/clone/bundle", content=body, auth=PEER)


def test_stage_put_complete_commits_with_origin_and_remembers_the_sender(receiver: Site) -> None:
    data = os.urandom(70_000)
    r = _stage(receiver, [_item(11, "obs/a.g3", data)])
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["site"] == "ucsd" and "http" in answer["managers"]
    (staged,) = answer["files"]
    assert (
        staged["outcome"] == "staged"
        and staged["put_path"] == f"/api/v2/clone/{staged['transfer_id']}"
    )
    r = receiver.http.put(staged["put_path"], content=data, auth=PEER)
    assert r.status_code == 200 and r.json()["checksum"] == md5(data)
    r = _complete(receiver, [(11, staged["transfer_id"])])
    assert r.status_code == 200
    assert r.json()["files"] == [
        {
            "source_transfer_id": 11,
            "outcome": "committed",
            "transfer_id": staged["transfer_id"],
            "checksum": md5(data),
            "reason": None,
        }
    ]
    with receiver.session() as session:
        file = session.get(File, "obs/a.g3")
        assert file is not None and (file.source, file.uploader) == ("mountain", "alice")
        holders = session.scalars(
            select(RemoteInstance.site).where(RemoteInstance.file_name == "obs/a.g3")
        )
        assert list(holders) == ["mountain"]
    assert receiver.http.get("/api/v2/download/obs/a.g3", auth=receiver.auth()).content == data
    # Repeating the complete (an answer lost on the way back) changes nothing.
    again = _complete(receiver, [(11, staged["transfer_id"])]).json()["files"][0]
    assert again["outcome"] == "committed" and again["checksum"] == md5(data)
    # And a new stage of the same file says it is here.
    r = _stage(receiver, [_item(12, "obs/a.g3", data)])
    assert r.json()["files"][0]["outcome"] == "already_present"


def test_stage_is_idempotent_by_the_senders_transfer_id(receiver: Site) -> None:
    data = os.urandom(100)
    first = _stage(receiver, [_item(7, "x/1", data)]).json()["files"][0]
    second = _stage(receiver, [_item(7, "x/1", data)]).json()["files"][0]
    assert second["transfer_id"] == first["transfer_id"]
    with receiver.session() as session:
        rows = session.scalars(select(IncomingTransfer).where(IncomingTransfer.name == "x/1")).all()
        assert len(rows) == 1 and rows[0].peer == "mountain" and rows[0].source_transfer_id == 7


def test_a_name_held_with_other_bytes_is_a_conflict_not_an_error(receiver: Site) -> None:
    upload(receiver.http, receiver.auth(), "taken/f", b"local bytes")
    r = _stage(receiver, [_item(1, "taken/f", b"other bytes"), _item(2, "free/f", b"ok")])
    assert r.status_code == 200
    conflict, staged = r.json()["files"]
    assert conflict["outcome"] == "conflict" and conflict["checksum"] == md5(b"local bytes")
    assert staged["outcome"] == "staged"


def test_one_corrupt_file_in_a_bundle_fails_alone(receiver: Site) -> None:
    blobs = {f"b/{i}": os.urandom(500 + i) for i in range(5)}
    files = [_item(100 + i, name, data) for i, (name, data) in enumerate(blobs.items())]
    staged = _stage(receiver, files).json()["files"]
    ids = [s["transfer_id"] for s in staged]
    payload = bytearray(b"".join(blobs.values()))
    payload[600] ^= 0xFF  # inside the second file
    r = _bundle(receiver, ids, bytes(payload))
    assert r.status_code == 200
    reasons = [f["reason"] for f in r.json()["files"]]
    assert reasons[0] is None and "checksum mismatch" in reasons[1]
    assert reasons[2:] == [None, None, None]
    results = _complete(receiver, [(100 + i, t) for i, t in enumerate(ids)]).json()["files"]
    assert [f["outcome"] for f in results] == [
        "committed",
        "failed",
        "committed",
        "committed",
        "committed",
    ]
    with receiver.session() as session:
        names = set(session.scalars(select(File.name)))
        assert names == {"b/0", "b/2", "b/3", "b/4"}
    # The refused file can be staged again: a new transfer for the same key.
    again = _stage(receiver, [files[1]]).json()["files"][0]
    assert again["outcome"] == "staged" and again["transfer_id"] != ids[1]


def test_bytes_written_directly_are_hashed_at_complete_or_deferred(
    make_site: Callable[..., Site],
) -> None:
    site = make_site(site_name="ucsd", replication={"inline_verify_bytes": 1000})
    with site.factory.begin() as session:
        create_user(session, "mountain", PASSWORD, PermissionLevel.PEER)
    small, large, bad = os.urandom(900), os.urandom(5000), os.urandom(800)
    answer = _stage(
        site, [_item(1, "l/small", small), _item(2, "l/large", large), _item(3, "l/bad", bad)]
    ).json()
    assert answer["local"] is not None  # same filesystem: local paths are offered
    paths = [Path(f["local_path"]) for f in answer["files"]]
    paths[0].write_bytes(small)
    paths[1].write_bytes(large)
    paths[2].write_bytes(bad[:-1] + bytes([bad[-1] ^ 1]))  # damaged on the way (always)
    ids = [f["transfer_id"] for f in answer["files"]]
    results = _complete(site, list(zip([1, 2, 3], ids, strict=True)), "local").json()["files"]
    outcomes = {r["source_transfer_id"]: r["outcome"] for r in results}
    # small fits the inline budget; large does not and is verified in the background.
    assert outcomes[1] == "committed" and outcomes[2] == "pending"
    assert outcomes[3] in ("failed", "pending")
    summary = verify_deferred(site.factory, limit=100, out_of_time=lambda: False)
    with site.session() as session:
        assert set(session.scalars(select(File.name))) == {"l/small", "l/large"}
        owed = {(c.source_transfer_id, c.committed) for c in session.scalars(select(Checkin))}
    assert (2, True) in owed
    assert summary["committed"] >= 1
    status = site.http.post(
        "/api/v2/clone/status",
        json={"source": "mountain", "source_transfer_ids": [1, 2, 3, 4]},
        auth=PEER,
    ).json()["files"]
    assert [s["outcome"] for s in status] == ["committed", "committed", "failed", "unknown"]
    assert status[1]["checksum"] == md5(large)


def test_who_may_call_what(receiver: Site) -> None:
    data = b"x" * 10
    # A peer account speaks only for its own site.
    r = receiver.http.post(
        "/api/v2/clone/stage",
        json={"source": "mountain", "files": [_item(1, "p/x", data)]},
        auth=("other", PASSWORD),
    )
    assert r.status_code == 403 and "may not act for site" in r.json()["reason"]
    # Ordinary users cannot use the peer protocol; peers cannot upload or list transfers.
    assert (
        _stage(receiver, [_item(1, "p/x", data)], auth=receiver.auth("writer")).status_code == 403
    )
    r = receiver.http.post(
        "/api/v2/upload/stage", json={"files": [{"name": "p/y", "size": 1}]}, auth=PEER
    )
    assert r.status_code == 403
    assert receiver.http.get("/api/v2/transfers", auth=PEER).status_code == 403
    assert (
        receiver.http.post(
            "/api/v2/clone/stage", json={"source": "mountain", "files": []}
        ).status_code
        == 401
    )
    # Bad names are refused by the upload rule, file by file (the rest of a batch goes on).
    r = _stage(receiver, [_item(1, "../etc/passwd", data)])
    assert r.status_code == 200 and r.json()["files"][0]["outcome"] == "refused", r.text
