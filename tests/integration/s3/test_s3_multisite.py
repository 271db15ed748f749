"""A POSIX site and a site on Swift: replication both ways, a disk each way, audits,
VOSpace, all through the real peer protocol (the in-process harness)."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from librarian_client.models import API_PREFIX
from librarian_server.orm import Instance
from librarian_server.services.integrity.audit import AuditPolicy
from tests.integration.helpers import upload
from tests.integration.integrity.helpers import audit
from tests.integration.multisite import (
    Sites,
    content,
    holders,
    info,
    run,
    sites_fixture,  # noqa: F401 - the fixture
)
from tests.integration.s3.conftest import MIB, put_on_s3
from tests.integration.vospace.conftest import (
    VO,
    validate,  # noqa: F401 - the fixture
)
from tests.integration.vospace.schemas import Validator
from tests.swift import SwiftNode

EVERYTHING = AuditPolicy(
    period=timedelta(0), walk_every=timedelta(0), dark_after=timedelta(hours=1)
)

FROM_POSIX = {
    "up/a.dat": os.urandom(4096),
    "up/b.dat": os.urandom(10_001),
    "up/big.dat": os.urandom(6 * MIB + 3),  # a streamed PUT, then a multipart upload
}
FROM_SWIFT = {"down/c.dat": os.urandom(3000), "down/big.dat": os.urandom(5 * MIB + 11)}


def test_posix_to_swift_and_back_with_audits_on_both(
    sites: Sites, swift_node: SwiftNode, swift_bucket: str
) -> None:
    alpha, beta = sites.alpha, sites.beta  # alpha on POSIX, beta on a bucket
    swift = put_on_s3(beta, swift_node, swift_bucket)
    sites.link(alpha, beta, managers=["http", "local"])
    sites.link(beta, alpha, managers=["http", "local"])
    for name, data in FROM_POSIX.items():
        upload(alpha.http, alpha.auth(), name, data)
    summary = run(alpha, "send_clone")["send_clone"]
    assert (summary["sent"], summary["failed"]) == (3, 0), summary
    for name, data in FROM_POSIX.items():
        assert content(beta, name) == data
        assert [i.store for i in info(beta, name).instances] == ["swift"]
        assert holders(alpha, name) == {"beta"}

    for name, data in FROM_SWIFT.items():
        upload(beta.http, beta.auth(), name, data)
    summary = run(beta, "send_clone")["send_clone"]
    # Sent by HTTP although both sites share a filesystem: the bucket has no local paths.
    assert (summary["sent"], summary["failed"]) == (2, 0), summary
    for name, data in FROM_SWIFT.items():
        assert content(alpha, name) == data
        assert holders(beta, name) >= {"alpha"}
    with beta.client("admin") as client:
        managers = {t.transfer_manager for t in client.transfers(peer="alpha")}
    assert "local" not in managers

    for site in (alpha, beta):
        found = audit(site, EVERYTHING)
        assert found.damaged == 0 and found.rehashed == 5, found
    with beta.session() as session:
        stores = set(session.scalars(select(Instance.store_id)))
    assert stores == {swift}


def test_a_disk_from_a_swift_site_to_a_posix_site_and_back(
    sites: Sites, swift_node: SwiftNode, swift_bucket: str, tmp_path: Path
) -> None:
    alpha, beta = sites.alpha, sites.beta
    put_on_s3(alpha, swift_node, swift_bucket)  # this time alpha stores in the bucket
    sites.link(alpha, beta, push=False)
    sites.link(beta, alpha, push=False)
    for name, data in FROM_POSIX.items():
        upload(alpha.http, alpha.auth(), name, data)
    disk = tmp_path / "disk"
    disk.mkdir()
    with alpha.client("admin") as client:
        exported = list(client.sneakernet_export("beta", str(disk)))[-1].export
    assert exported is not None and exported.files == len(FROM_POSIX)
    with beta.client("admin") as client:
        ingested = list(client.sneakernet_ingest(str(disk)))[-1].ingest
    assert ingested is not None and ingested.committed == len(FROM_POSIX)
    for name, data in FROM_POSIX.items():
        assert content(beta, name) == data

    # And a disk the other way, ingested into the bucket.
    for name, data in FROM_SWIFT.items():
        upload(beta.http, beta.auth(), name, data)
    back = tmp_path / "back"
    back.mkdir()
    with beta.client("admin") as client:
        exported = list(client.sneakernet_export("alpha", str(back)))[-1].export
    assert exported is not None and exported.files == len(FROM_SWIFT)
    with alpha.client("admin") as client:
        ingested = list(client.sneakernet_ingest(str(back)))[-1].ingest
    assert ingested is not None and ingested.committed == len(FROM_SWIFT)
    for name, data in FROM_SWIFT.items():
        assert content(alpha, name) == data
        assert [i.store for i in info(alpha, name).instances] == ["swift"]


def test_vospace_reads_and_writes_on_a_bucket(
    sites: Sites,
    swift_node: SwiftNode,
    swift_bucket: str,
    validate: Validator,  # noqa: F811
) -> None:
    site = sites.alpha
    put_on_s3(site, swift_node, swift_bucket)
    vo = VO(site, validate)
    vo.mkdir("obs")
    data = os.urandom(6 * MIB + 1)
    assert vo.push("obs/x.fits", data).status_code == 201
    auth = vo.auth("writer")
    r = vo.http.get("/vospace/files/obs/x.fits", auth=auth)
    assert r.status_code == 200 and r.content == data
    r = vo.http.get("/vospace/files/obs/x.fits", headers={"Range": "bytes=10-19"}, auth=auth)
    assert r.status_code == 206 and r.content == data[10:20]
    assert [i.store for i in info(site, "obs/x.fits").instances] == ["swift"]
    r = site.http.get(f"{API_PREFIX}/download/obs/x.fits", auth=site.auth("reader"))
    assert r.content == data
