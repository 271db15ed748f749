"""Many small files' bytes in one request, split by their staged sizes."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from librarian_client.models import TransferStatus
from librarian_server.orm import IncomingTransfer
from tests.integration.conftest import Site
from tests.integration.helpers import md5, stage


def _bundle(site: Site, ids: list[int], payload: bytes, user: str = "writer") -> httpx.Response:
    body = json.dumps({"transfer_ids": ids}).encode() + b"\n" + payload
    return site.http.post("/api/v2/upload/bundle", content=body, auth=site.auth(user))


def _staged(site: Site, blobs: dict[str, bytes]) -> list[dict[str, Any]]:
    r = stage(site.http, site.auth(), [{"name": n, "size": len(b)} for n, b in blobs.items()])
    assert r.status_code == 200
    transfers: list[dict[str, Any]] = r.json()["transfers"]
    return transfers


def test_bundle_then_commit(site: Site) -> None:
    blobs = {f"b/{i}": os.urandom(i * 100) for i in range(20)}  # includes an empty file
    transfers = _staged(site, blobs)
    r = _bundle(site, [t["transfer_id"] for t in transfers], b"".join(blobs.values()))
    assert r.status_code == 200, r.text
    answers = {f["transfer_id"]: f for f in r.json()["files"]}
    for t in transfers:
        assert answers[t["transfer_id"]]["checksum"] == md5(blobs[t["name"]])
    r = site.http.post(
        "/api/v2/upload/commit",
        auth=site.auth(),
        json={
            "files": [
                {"transfer_id": t["transfer_id"], "checksum": md5(blobs[t["name"]])}
                for t in transfers
            ]
        },
    )
    assert r.status_code == 200
    for name, data in blobs.items():
        assert site.http.get(f"/api/v2/download/{name}", auth=site.auth()).content == data


def test_short_bundle_fails_the_short_and_missing_files_only(site: Site) -> None:
    blobs = {"s/1": b"a" * 10, "s/2": b"b" * 10, "s/3": b"c" * 10}
    transfers = _staged(site, blobs)
    r = _bundle(site, [t["transfer_id"] for t in transfers], b"a" * 10 + b"b" * 5)
    assert r.status_code == 422
    assert "size mismatch" in r.json()["reason"]
    with site.session() as s:
        status = {t.name: t.status for t in s.scalars(select(IncomingTransfer))}
    assert status == {
        "s/1": TransferStatus.STAGED,
        "s/2": TransferStatus.FAILED,
        "s/3": TransferStatus.FAILED,
    }
    staged = list((site.settings.store_dir / "staging").iterdir())
    assert len(staged) == 1 and staged[0].read_bytes() == b"a" * 10


def test_long_bundle_fails_everything(site: Site) -> None:
    transfers = _staged(site, {"l/1": b"12", "l/2": b"34"})
    r = _bundle(site, [t["transfer_id"] for t in transfers], b"1234extra")
    assert r.status_code == 422 and "more bytes" in r.json()["reason"]
    assert list((site.settings.store_dir / "staging").iterdir()) == []


def test_bundle_header_errors(site: Site) -> None:
    r = site.http.post("/api/v2/upload/bundle", content=b"no newline at all", auth=site.auth())
    assert r.status_code == 400 and "header" in r.json()["reason"]
    r = site.http.post("/api/v2/upload/bundle", content=b'{"transfer_ids": []}\n', auth=site.auth())
    assert r.status_code == 400
    r = _bundle(site, [12345], b"")
    assert r.status_code == 404


def test_bundle_needs_write_permission_and_ownership(site: Site) -> None:
    transfers = _staged(site, {"o/1": b"x"})
    ids = [t["transfer_id"] for t in transfers]
    assert _bundle(site, ids, b"x", user="reader").status_code == 403
    r = site.http.post("/api/v2/upload/bundle", content=b'{"transfer_ids": [1]}\nx')
    assert r.status_code == 401


def test_client_library_upload_many_round_trip(site: Site, tmp_path: Path) -> None:
    """The real client against the real app: bundles for small files, PUT for a big one."""
    files = {}
    for i in range(30):
        path = tmp_path / f"f{i}"
        path.write_bytes(os.urandom(i * 37))
        files[f"lib/{i}"] = path
    big = tmp_path / "big"
    big.write_bytes(os.urandom(3 * 1024 * 1024))
    files["lib/big"] = big
    client = site.client()
    client_settings = site.settings  # offer_local_paths is on: the client may copy locally
    assert client_settings.offer_local_paths
    results = client.upload_many([(str(p), n) for n, p in files.items()])
    assert {r.name for r in results} == set(files)
    again = client.upload_many([(str(p), n) for n, p in files.items()])
    assert all(r.already_present for r in again)
    out = tmp_path / "out"
    client.download("lib/big", out)
    assert out.read_bytes() == big.read_bytes()
    assert client.info("lib/7").checksum == md5(files["lib/7"].read_bytes())
