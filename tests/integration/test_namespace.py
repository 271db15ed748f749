"""A name is a file or a directory, never both: at stage, at commit (race-safe), for peers.

On SQLite and PostgreSQL. The race test holds a real transaction open that creates
the clashing name, and shows that a commit of the other name waits for it and then
refuses, rather than both succeeding.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert, select

from librarian_client.models import CommitItem, PermissionLevel, TransferStatus
from librarian_server.orm import File, IncomingTransfer, User, utcnow
from librarian_server.services.accounts.auth import AuthenticatedUser, create_user
from librarian_server.services.catalogue import namespace
from librarian_server.services.ingest.commit import commit_each
from librarian_server.services.ingest.transfers import NewTransfer, open_transfers
from tests.integration.conftest import PASSWORD, Site
from tests.integration.helpers import md5, stage, upload


def refused(r: httpx.Response, *fragments: str) -> None:
    assert r.status_code == 409, r.text
    body = r.json()
    assert body["error"] == "NameConflict" and body["suggested_remedy"]
    for fragment in fragments:
        assert fragment in body["reason"], body["reason"]


def put(site: Site, transfer: dict[str, Any], data: bytes) -> None:
    r = site.http.put(transfer["put_path"], content=data, auth=site.auth())
    assert r.status_code == 200, r.text


def commit(site: Site, transfer_id: int, data: bytes) -> httpx.Response:
    body = {"files": [{"transfer_id": transfer_id, "checksum": md5(data)}]}
    return site.http.post("/api/v2/upload/commit", json=body, auth=site.auth())


def test_a_directory_name_cannot_become_a_file(site: Site) -> None:
    upload(site.http, site.auth(), "odd/a.dat", b"a")
    r = stage(site.http, site.auth(), [{"name": "odd", "size": 1}])
    refused(r, "'odd' is a directory", "'odd/a.dat'")
    # Names that merely share a start are unrelated.
    for name in ("od", "odd.dat", "odd0", "odd-x/y"):
        assert stage(site.http, site.auth(), [{"name": name, "size": 1}]).status_code == 200


def test_nothing_can_go_under_a_file(site: Site) -> None:
    upload(site.http, site.auth(), "run/f", b"f")
    r = stage(site.http, site.auth(), [{"name": "run/f/deeper/x", "size": 1}])
    refused(r, "'run/f/deeper/x' would be under 'run/f', which is a file")
    with site.session() as s:
        assert (
            s.scalars(select(IncomingTransfer).where(IncomingTransfer.name != "run/f")).all() == []
        )


def test_one_batch_cannot_hold_both(site: Site) -> None:
    files = [{"name": "b/x", "size": 1}, {"name": "b/x/y", "size": 1}]
    refused(stage(site.http, site.auth(), files), "'b/x/y' would be under 'b/x'")


def test_the_commit_checks_again(site: Site) -> None:
    """Both stage while the other is not yet a file; the second commit is refused."""
    (a,) = stage(site.http, site.auth(), [{"name": "race", "size": 1}]).json()["transfers"]
    (b,) = stage(site.http, site.auth(), [{"name": "race/x", "size": 2}]).json()["transfers"]
    put(site, a, b"A")
    put(site, b, b"BB")
    assert commit(site, b["transfer_id"], b"BB").status_code == 200
    refused(commit(site, a["transfer_id"], b"A"), "'race' is a directory")
    with site.session() as s:
        transfer = s.get(IncomingTransfer, a["transfer_id"])
        assert transfer is not None and transfer.status == TransferStatus.FAILED
        assert not Path(transfer.staging_path).exists()
        assert s.get(File, "race") is None


def test_a_commit_racing_a_clashing_transaction_waits_and_refuses(site: Site) -> None:
    (t,) = stage(site.http, site.auth(), [{"name": "held/x", "size": 2}]).json()["transfers"]
    put(site, t, b"xx")
    answers: list[httpx.Response] = []
    with site.factory.begin() as holder:
        namespace.lock_names(holder, ["held"])
        holder.execute(
            insert(File).values(
                name="held",
                size=0,
                checksum=md5(b""),
                uploader="w",
                source="x",
                created_time=utcnow(),
            )
        )
        holder.flush()  # on SQLite this write holds the database's write lock
        racer = threading.Thread(
            target=lambda: answers.append(commit(site, t["transfer_id"], b"xx"))
        )
        racer.start()
        racer.join(1.5)
        assert racer.is_alive(), "the commit did not wait for the clashing transaction"
    racer.join(30)
    (answer,) = answers
    refused(answer, "'held/x' would be under 'held', which is a file")
    with site.session() as s:
        assert s.get(File, "held/x") is None and s.get(File, "held") is not None


def test_a_peer_batch_fails_only_the_clashing_file(site: Site) -> None:
    """The commit path clones and disks share: one clash does not sink the batch."""
    upload(site.http, site.auth(), "p/file", b"f")
    files: list[dict[str, Any]] = [
        {"name": "p/file/under", "size": 1},
        {"name": "p/fine", "size": 1},
    ]
    # Stage each alone (the stage check would refuse the clash), as a peer's staging
    # before the clashing file arrived would have.
    with site.session() as s:
        writer = s.scalars(select(User).where(User.name == "writer")).one()
        user = AuthenticatedUser(writer.id, writer.name, PermissionLevel.READAPPEND)
    staged = []
    for f in files:
        with site.factory.begin() as s:
            opened = open_transfers(
                s,
                [NewTransfer(f["name"], 1, md5(b"1"))],
                settings=site.settings,
                uploader="writer",
                source="mountain",
            )
            staged.append(opened.transfers[0])
        staged[-1].staging_path.write_bytes(b"1")
    items = [CommitItem(transfer_id=t.id) for t in staged]
    outcome = commit_each(site.factory, items, user=user, caller="test")
    clash, fine = (outcome[t.id] for t in staged)
    assert isinstance(clash, str) and "would be under 'p/file', which is a file" in clash
    assert not isinstance(fine, str) and fine.name == "p/fine"
    with site.session() as s:
        assert s.get(File, "p/fine") is not None and s.get(File, "p/file/under") is None


def test_many_names_are_checked_in_few_queries(site: Site) -> None:
    upload(site.http, site.auth(), "many/d/x", b"x")
    names = [f"many/n{i:05d}" for i in range(2000)] + ["many/d"]
    with site.session() as s:
        why = namespace.conflicts(s, names)
    assert list(why) == ["many/d"]


def test_a_peer_stage_answers_a_clash_as_a_conflict(make_site: Callable[..., Site]) -> None:
    site = make_site(site_name="ucsd")
    with site.factory.begin() as session:
        create_user(session, "mountain", PASSWORD, PermissionLevel.PEER)
    upload(site.http, site.auth(), "c/f", b"f")
    files = [
        {
            "source_transfer_id": key,
            "name": name,
            "size": 1,
            "checksum": md5(b"1"),
            "origin": "mountain",
            "uploader": "alice",
        }
        for key, name in ((1, "c/f/x"), (2, "c/ok"))
    ]
    r = site.http.post(
        "/api/v2/clone/stage",
        json={"source": "mountain", "files": files},
        auth=("mountain", PASSWORD),
    )
    assert r.status_code == 200, r.text
    clash, staged = r.json()["files"]
    assert clash["outcome"] == "conflict" and "name clash" in clash["reason"]
    assert staged["outcome"] == "staged"
