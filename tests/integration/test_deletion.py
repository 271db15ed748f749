"""Deleting files (``POST /api/v2/delete`` and ``librarian rm``) on SQLite and PostgreSQL.

Who may delete what: the uploader, their own fresh file that no other site has; an
admin with force, anything else; the last copy known anywhere, only with last_copy.
A refused request deletes nothing; every deletion leaves an event; bytes go only
once the deletion has committed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import insert, select, update

from librarian_client.cli import main
from librarian_client.models import DeleteRequest, PermissionLevel, TransferStatus
from librarian_server.orm import (
    Event,
    File,
    Instance,
    OutgoingTransfer,
    RemoteInstance,
    Store,
    User,
    utcnow,
)
from librarian_server.services.accounts.auth import AuthenticatedUser
from librarian_server.services.catalogue import deletion
from tests.integration.conftest import PASSWORD, Site
from tests.integration.helpers import md5, upload


def rm(site: Site, user: str = "writer", **body: Any) -> httpx.Response:
    return site.http.post("/api/v2/delete", json=body, auth=site.auth(user))


def stored(site: Site, name: str) -> Path:
    with site.session() as s:
        (instance,) = s.scalars(select(Instance).where(Instance.file_name == name))
        return site.settings.store_dir / "files" / instance.path


def events(site: Site) -> list[Event]:
    with site.session() as s:
        deleted = select(Event).where(Event.kind == "file.deleted")  # commits are events too
        return list(s.scalars(deleted.order_by(Event.id)))


def replicate(site: Site, name: str, to: str = "ucsd") -> None:
    with site.factory.begin() as s:
        s.execute(insert(RemoteInstance).values(file_name=name, site=to, copy_time=utcnow()))


def age(site: Site, name: str, hours: float) -> None:
    with site.factory.begin() as s:
        s.execute(
            update(File)
            .where(File.name == name)
            .values(created_time=utcnow() - timedelta(hours=hours))
        )


def test_the_uploader_takes_back_a_fresh_file(site: Site) -> None:
    upload(site.http, site.auth(), "mine/oops.dat", b"oops")
    path = stored(site, "mine/oops.dat")
    r = rm(site, names=["mine/oops.dat"])
    assert r.status_code == 200, r.text
    assert r.json() == {
        "deleted": [
            {"name": "mine/oops.dat", "size": 4, "checksum": md5(b"oops"), "last_copy": True}
        ],
        "bytes_freed": 4,
        "dry_run": False,
    }
    assert not path.exists()
    with site.session() as s:
        assert s.get(File, "mine/oops.dat") is None
        assert s.scalars(select(Store)).one().used_bytes == 0
    (event,) = events(site)
    assert (event.kind, event.actor, event.subject) == ("file.deleted", "writer", "mine/oops.dat")
    assert event.detail["rule"] == "uploader within grace" and event.detail["via"] == "api"
    assert event.detail["checksum"] == md5(b"oops") and event.detail["last_copy"] is True
    # The name is free again.
    upload(site.http, site.auth(), "mine/oops.dat", b"fixed")


def test_past_the_grace_it_takes_an_admin_with_force_and_last_copy(site: Site) -> None:
    upload(site.http, site.auth(), "old/f", b"old")
    age(site, "old/f", hours=25)
    r = rm(site, names=["old/f"])
    assert r.status_code == 403 and "older than 24 h" in r.json()["reason"]
    assert "--force" in r.json()["suggested_remedy"]
    r = rm(site, "admin", names=["old/f"])
    assert r.status_code == 409 and "needs --force" in r.json()["reason"]
    r = rm(site, "admin", names=["old/f"], force=True)
    assert r.status_code == 409 and "last copy known anywhere" in r.json()["reason"]
    assert "--last-copy" in r.json()["suggested_remedy"]
    assert stored(site, "old/f").exists() and events(site) == []
    r = rm(site, "admin", names=["old/f"], force=True, last_copy=True)
    assert r.status_code == 200, r.text
    (event,) = events(site)
    assert event.actor == "admin" and event.detail["rule"] == "admin with force"
    assert event.detail["force"] is True and event.detail["last_copy_flag"] is True


def test_a_replicated_file_needs_an_admin_but_is_not_the_last_copy(site: Site) -> None:
    upload(site.http, site.auth(), "rep/f", b"rep")
    replicate(site, "rep/f")
    r = rm(site, names=["rep/f"])
    assert r.status_code == 403 and "replicated: ucsd" in r.json()["reason"]
    r = rm(site, "admin", names=["rep/f"], force=True)
    assert r.status_code == 200 and r.json()["deleted"][0]["last_copy"] is False
    (event,) = events(site)
    assert event.detail["holders"] == ["ucsd"] and event.detail["last_copy"] is False


def test_another_users_file_and_readers(site: Site) -> None:
    upload(site.http, site.auth("admin"), "theirs/f", b"t")
    r = rm(site, names=["theirs/f"])
    assert r.status_code == 403 and "uploaded by admin" in r.json()["reason"]
    assert rm(site, "reader", names=["theirs/f"]).status_code == 403
    assert rm(site, "admin", names=["theirs/f"]).status_code == 200  # their own, fresh


def test_a_prefix_goes_whole_or_not_at_all(site: Site) -> None:
    for name in ("pre/a", "pre/b/c", "pre/d"):
        upload(site.http, site.auth(), name, name.encode())
    upload(site.http, site.auth(), "prelude", b"a neighbour sharing the text")
    replicate(site, "pre/d")
    r = rm(site, prefix="pre/")
    assert r.status_code == 403 and "'pre/d'" in r.json()["reason"]
    with site.session() as s:
        assert len(s.scalars(select(File)).all()) == 4  # nothing went
    dry = rm(site, "admin", prefix="pre/", force=True, last_copy=True, dry_run=True)
    assert dry.status_code == 200 and dry.json()["dry_run"] is True
    assert [f["name"] for f in dry.json()["deleted"]] == ["pre/a", "pre/b/c", "pre/d"]
    assert events(site) == [] and stored(site, "pre/a").exists()
    r = rm(site, "admin", prefix="pre/", force=True, last_copy=True)
    assert r.status_code == 200 and r.json()["bytes_freed"] == len(b"pre/apre/b/cpre/d")
    with site.session() as s:
        assert [f.name for f in s.scalars(select(File))] == ["prelude"]
    assert [e.subject for e in events(site)] == ["pre/a", "pre/b/c", "pre/d"]


def test_a_file_on_its_way_to_a_peer_is_busy(site: Site) -> None:
    upload(site.http, site.auth(), "busy/f", b"b")
    with site.factory.begin() as s:
        s.execute(
            insert(OutgoingTransfer).values(
                file_name="busy/f",
                destination="ucsd",
                status=TransferStatus.ONGOING,
                size=1,
                checksum=md5(b"b"),
            )
        )
    r = rm(site, "admin", names=["busy/f"], force=True, last_copy=True)
    assert r.status_code == 409 and "being sent to ucsd" in r.json()["reason"]
    assert r.json()["suggested_remedy"]


def test_bad_requests(site: Site) -> None:
    upload(site.http, site.auth(), "x/f", b"x")
    missing = rm(site, names=["x/f", "x/nope"])
    assert missing.status_code == 404 and "'x/nope'" in missing.json()["reason"]
    assert rm(site, prefix="nothing/").status_code == 404
    for body in ({}, {"names": ["x/f"], "prefix": "x/"}, {"prefix": ""}):
        r = rm(site, **body)
        assert r.status_code == 400 and r.json()["suggested_remedy"], body
    assert stored(site, "x/f").exists()


def test_bytes_go_only_once_the_deletion_commits(site: Site) -> None:
    upload(site.http, site.auth(), "tx/f", b"tx")
    path = stored(site, "tx/f")
    with site.session() as s:
        user = s.scalars(select(User).where(User.name == "writer")).one()
        writer = AuthenticatedUser(user.id, user.name, PermissionLevel.READAPPEND)
    request = DeleteRequest(names=["tx/f"])
    with site.factory() as session:
        deletion.delete_files(session, request, user=writer, settings=site.settings)
        assert path.exists()  # deleted in the transaction, not yet on disk
        session.rollback()
    assert path.exists() and events(site) == []
    with site.session() as s:
        assert s.get(File, "tx/f") is not None
    with site.factory.begin() as session:
        deletion.delete_files(session, request, user=writer, settings=site.settings)
        assert path.exists()
    assert not path.exists()


def test_the_cli(
    make_site: Callable[..., Site], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site = make_site(delete_grace_seconds=3600)
    secret = tmp_path / "pw"
    secret.write_text(PASSWORD)

    def cli(user: str, *args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        flags = ["--url", "http://testserver", "--username", user, "--password-file", str(secret)]
        code = main([*flags, *args], transport=site.http._transport)
        out, err = capsys.readouterr()
        return code, out, err

    upload(site.http, site.auth(), "cli/a", b"aa")
    upload(site.http, site.auth(), "cli/b", b"bbb")
    age(site, "cli/b", hours=2)
    code, out, err = cli("writer", "rm", "cli/b")
    assert code == 1 and out == ""
    assert err.startswith("librarian: error: Only an admin may delete 1 file: 'cli/b'")
    assert "older than 1 h" in err and len(err.splitlines()) == 1
    assert cli("writer", "rm", "--prefix", "cli/", "cli/a")[0] == 1
    code, out, _ = cli("writer", "rm", "cli/a", "--dry-run")
    assert code == 0 and out.splitlines() == [
        "would delete cli/a  (last copy)",
        "would delete 1 file, 2 B",
    ]
    code, out, _ = cli("writer", "rm", "cli/a")
    assert code == 0 and out.splitlines()[-1] == "deleted 1 file, 2 B"
    code, out, err = cli("admin", "rm", "--prefix", "cli/", "--force")
    assert code == 1 and "--last-copy" in err
    code, out, _ = cli("admin", "--json", "rm", "--prefix", "cli/", "--force", "--last-copy")
    assert code == 0 and '"bytes_freed": 3' in out
