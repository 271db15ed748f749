"""``librarian verify`` / ``POST /api/v2/verify``: re-hash copies now, record what is found."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from librarian_client.models import CopyState
from librarian_server.orm import Instance
from tests.integration.cli.conftest import Run
from tests.integration.conftest import Site
from tests.integration.helpers import posix_backend, upload


def _copy_path(site: Site, name: str) -> Path:
    with site.session() as session:
        instance = session.scalar(select(Instance).where(Instance.file_name == name))
        assert instance is not None
        return posix_backend(instance.store).local_path(instance.path)


def _verified(site: Site, name: str) -> tuple[CopyState | None, str | None]:
    with site.session() as session:
        instance = session.scalar(select(Instance).where(Instance.file_name == name))
        assert instance is not None
        return instance.verified_result, instance.verified_by


def _three_files(site: Site) -> None:
    for name in ("v/good", "v/flipped", "v/gone"):
        upload(site.http, site.auth(), name, name.encode() * 5000)
    flipped = _copy_path(site, "v/flipped")
    data = bytearray(flipped.read_bytes())
    data[4321] ^= 0x01
    flipped.chmod(0o644)
    flipped.write_bytes(bytes(data))
    _copy_path(site, "v/gone").unlink()


def test_a_prefix_is_verified_page_by_page_and_each_finding_is_recorded(
    site: Site, cli: Run
) -> None:
    _three_files(site)
    result = cli("verify", "--prefix", "v/", "--page-size", "1", "--json", user="admin")
    assert result.code == 1
    assert "2 copies not ok, of 3 files" in result.err
    found = {c["name"]: c for c in json.loads(result.out)}
    assert {n: c["finding"] for n, c in found.items()} == {
        "v/flipped": "corrupt",
        "v/gone": "missing",
        "v/good": "ok",
    }
    assert "hashes to" in found["v/flipped"]["detail"]
    assert _verified(site, "v/good") == (CopyState.OK, "verify (admin)")
    assert _verified(site, "v/flipped") == (CopyState.BAD, "verify (admin)")
    assert _verified(site, "v/gone")[0] is CopyState.BAD
    # A copy proven bad is no longer served.
    assert site.http.get("/api/v2/download/v/flipped", auth=site.auth()).status_code == 409
    info = site.http.get("/api/v2/files/v/flipped", auth=site.auth()).json()
    assert info["instances"][0]["verified_detail"].startswith("corrupt: hashes to")
    shown = cli("info", "v/flipped")
    (row,) = [line.split() for line in shown.out.splitlines() if line.startswith("  local ")]
    assert row[1:3] == ["yes", "bad"]  # still there, no longer served
    assert "verify (admin)" in shown.out
    assert "local: corrupt: hashes to" in shown.out


def test_named_files_in_text_and_a_good_copy_exits_zero(site: Site, cli: Run) -> None:
    upload(site.http, site.auth(), "w/a", b"a" * 70_000)
    upload(site.http, site.auth(), "w/b", b"b" * 10)
    result = cli("verify", "w/a", "w/b", user="admin")
    assert result.code == 0, result
    lines = result.out.splitlines()
    assert lines[0].split() == ["FINDING", "STORE", "NAME"]
    assert sorted(line.split()[0] + " " + line.split()[2] for line in lines[1:]) == [
        "ok w/a",
        "ok w/b",
    ]
    assert "2 files verified, every copy ok" in result.err
    assert _verified(site, "w/a") == (CopyState.OK, "verify (admin)")


def test_only_admins_verify_and_bad_requests_are_refused(site: Site, cli: Run) -> None:
    upload(site.http, site.auth(), "x/a", b"x")
    result = cli("verify", "x/a", user="writer")
    assert result.code != 0 and "[permission_denied]" in result.err
    assert _verified(site, "x/a") == (CopyState.OK, "commit")  # untouched since its commit
    admin = site.auth("admin")
    r = site.http.post("/api/v2/verify", json={}, auth=admin)
    assert r.status_code == 400 and r.json()["suggested_remedy"]
    r = site.http.post("/api/v2/verify", json={"names": ["x/a"], "prefix": "x/"}, auth=admin)
    assert r.status_code == 400
    r = site.http.post("/api/v2/verify", json={"names": ["x/nope"]}, auth=admin)
    assert r.status_code == 404 and "x/nope" in r.json()["reason"]
    assert cli("verify", user="admin").code == 1  # neither names nor --prefix
