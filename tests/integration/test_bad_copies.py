"""A copy known to be bad is never served or sent; a good copy beside it still is."""

from __future__ import annotations

import logging
import shutil

import pytest
from sqlalchemy import select

from librarian_client.models import CopyState
from librarian_server.orm import ErrorRecord, Instance, utcnow
from librarian_server.services.catalogue import copies
from librarian_server.services.core.credentials import CredentialBox
from librarian_server.services.replication import peers, send_plan
from tests.integration.conftest import Site
from tests.integration.helpers import posix_backend, upload


def _instance(site: Site, name: str) -> Instance:
    with site.session() as session:
        row = session.scalar(select(Instance).where(Instance.file_name == name))
        assert row is not None
        session.expunge(row)
        return row


def _mark_bad(site: Site, name: str) -> int:
    instance = _instance(site, name)
    detail = "this site's copy hashes to md5:0, not the catalogue's"
    assert copies.mark_bad(site.factory, {instance.id: detail}, by="test.audit") == 1
    return instance.id


def test_a_bad_copy_is_refused_with_409_and_shown_in_the_listing(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    data = b"precious bytes" * 100
    upload(site.http, site.auth(), "v/only", data)
    with caplog.at_level(logging.ERROR, logger="librarian_server.services.catalogue.copies"):
        _mark_bad(site, "v/only")
    assert any("v/only" in r.getMessage() and "failed verification" in r.getMessage()
               for r in caplog.records if r.levelno == logging.ERROR)  # fmt: skip
    r = site.http.get("/api/v2/download/v/only", auth=site.auth())
    assert r.status_code == 409
    body = r.json()
    assert body["error"] == "CopyFailedVerification"
    assert "failed verification" in body["reason"] and body["suggested_remedy"]
    assert b"precious" not in r.content
    r = site.http.get("/api/v2/download/v/only", auth=site.auth(), headers={"Range": "bytes=0-9"})
    assert r.status_code == 409  # no part of it either
    r = site.http.get("/vospace/files/v/only", auth=site.auth())  # nor through VOSpace
    assert r.status_code == 409
    assert r.text.startswith("InternalFault") and b"precious" not in r.content
    (instance,) = site.http.get("/api/v2/files/v/only", auth=site.auth()).json()["instances"]
    assert instance["verified_result"] == "bad" and instance["verified_by"] == "test.audit"
    assert "hashes to" in instance["verified_detail"] and instance["verified_time"]
    with site.session() as session:
        logged = list(session.scalars(select(ErrorRecord.message)))
    assert any("v/only" in m and "no longer served" in m for m in logged)


def test_with_a_good_copy_beside_the_bad_one_the_good_one_is_served(site: Site) -> None:
    data = b"good and bad" * 50
    upload(site.http, site.auth(), "v/two", data)
    bad = _instance(site, "v/two")
    with site.factory.begin() as session:
        store = session.get(Instance, bad.id).store  # type: ignore[union-attr]
        backend = posix_backend(store)
        original = backend.local_path(bad.path)
        good_path = bad.path + ".second"
        shutil.copyfile(original, backend.local_path(good_path))
        original.chmod(0o600)
        original.write_bytes(b"X" * len(data))  # rot, found by an audit
        session.add(
            Instance(file_name="v/two", store_id=store.id, path=good_path, created_time=utcnow())
        )
    copies.mark_bad(site.factory, {bad.id: "hashes to md5:rot"}, by="test.audit")
    r = site.http.get("/api/v2/download/v/two", auth=site.auth())
    assert r.status_code == 200 and r.content == data
    states = sorted(
        (i["path"].endswith(".second"), i["verified_result"])
        for i in site.http.get("/api/v2/files/v/two", auth=site.auth()).json()["instances"]
    )
    assert states == [(False, "bad"), (True, None)]
    with site.session() as session:
        (found,) = copies.local_copies(session, ["v/two"]).values()
    assert found.store_path.endswith(".second")  # sends read the good copy too


def test_a_file_whose_only_copy_is_bad_is_not_planned_for_peers(site: Site) -> None:
    upload(site.http, site.auth(), "v/bad", b"1")
    upload(site.http, site.auth(), "v/fine", b"2")
    _mark_bad(site, "v/bad")
    with site.factory.begin() as session:
        peers.add_peer(
            session,
            name="ucsd",
            url="http://127.0.0.1:9",
            username="u",
            password="p",
            box=CredentialBox.for_settings(site.settings),
            settings=site.settings,
        )
    assert send_plan.plan(site.factory, "ucsd", site.settings, batch_size=10, limit=100) == {
        "queued": 1,
        "batches": 1,
    }
    with site.session() as session:
        assert copies.local_copies(session, ["v/bad", "v/fine"]).keys() == {"v/fine"}
        verified = session.scalar(
            select(Instance.verified_result).where(Instance.file_name == "v/bad")
        )
    assert verified is CopyState.BAD
