"""Signed disks between two in-process sites: export, then ingest as it was carried,
as it was forged (an edited origin or uploader, a line from elsewhere), or unsigned.

Each site has its own catalogue (two SQLite files, or two PostgreSQL databases) and
its own secret key; the sites share only the peer passwords, as two real sites do.
"""

from __future__ import annotations

import json
import logging
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from librarian_client.models import PermissionLevel
from librarian_server.orm import File
from librarian_server.services.accounts.auth import create_user
from librarian_server.services.core.credentials import CredentialBox
from librarian_server.services.replication.peers import add_peer
from librarian_server.services.sneakernet.signing import SIG
from tests import pg
from tests.integration.conftest import Site
from tests.integration.helpers import upload

MOUNTAIN_CALLS_UCSD = "mountain-to-ucsd password"
UCSD_CALLS_MOUNTAIN = "ucsd-to-mountain password"
Sites = tuple[Site, Site]


def _peer(site: Site, peer: str, username: str, password: str, account_password: str) -> None:
    """``peer`` may call ``site`` (an account), and ``site`` calls ``peer`` (a peer entry)."""
    with site.factory.begin() as session:
        create_user(session, peer, account_password, PermissionLevel.PEER)
        add_peer(
            session,
            name=peer,
            url=f"http://{peer}.invalid",
            username=username,
            password=password,
            box=CredentialBox.for_settings(site.settings),
            settings=site.settings,
            push=False,
        )


@pytest.fixture
def sites(
    make_site: Callable[..., Site], database_url: str | None, tmp_path: Path
) -> Iterator[Sites]:
    mountain = make_site(site_name="mountain", data_dir=tmp_path / "mountain")
    with pg.temporary_database() if database_url else _no_database() as other_url:
        ucsd = make_site(
            site_name="ucsd", data_dir=tmp_path / "ucsd", database_url=other_url or None
        )
        _peer(mountain, "ucsd", "mountain", MOUNTAIN_CALLS_UCSD, UCSD_CALLS_MOUNTAIN)
        _peer(ucsd, "mountain", "ucsd", UCSD_CALLS_MOUNTAIN, MOUNTAIN_CALLS_UCSD)
        yield mountain, ucsd


class _no_database:  # stands in for pg.temporary_database()
    def __enter__(self) -> str:
        return ""

    def __exit__(self, *exc: object) -> None:
        return None


def _events(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    return [json.loads(line) for line in response.text.splitlines() if line]


def _export(mountain: Site, disk: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        upload(mountain.http, mountain.auth(), name, data)
    disk.mkdir(exist_ok=True)
    r = mountain.http.post(
        "/api/v2/sneakernet/export",
        json={"peer": "ucsd", "path": str(disk)},
        auth=mountain.auth("admin"),
    )
    done = _events(r)[-1]
    assert done["event"] == "done" and done["export"]["files"] == len(files), done
    return Path(done["export"]["path"])


def _ingest(ucsd: Site, disk: Path, **extra: Any) -> Any:
    return ucsd.http.post(
        "/api/v2/sneakernet/ingest", json={"path": str(disk), **extra}, auth=ucsd.auth("admin")
    )


def _lines(export: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (export / "manifest.jsonl").read_text().splitlines()]


def _rewrite(export: Path, lines: list[dict[str, Any]]) -> None:
    (export / "manifest.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))


def _catalogue(site: Site) -> dict[str, tuple[str, str]]:
    with site.session() as s:
        return {f.name: (f.source, f.uploader) for f in s.scalars(select(File))}


def test_a_signed_disk_ingests_and_every_line_is_signed(sites: Sites, tmp_path: Path) -> None:
    mountain, ucsd = sites
    export = _export(mountain, tmp_path / "disk", {"n/a": b"a" * 100, "n/b": b"b" * 200})
    lines = _lines(export)
    assert all(SIG in line for line in lines)
    assert lines[0]["key"]["account"] == "ucsd" and "password" not in json.dumps(lines[0])
    r = _ingest(ucsd, tmp_path / "disk")
    done = _events(r)[-1]["ingest"]
    assert (done["committed"], done["bad"], done["unverified"]) == (2, [], [])
    assert _catalogue(ucsd) == {"n/a": ("mountain", "writer"), "n/b": ("mountain", "writer")}


@pytest.mark.parametrize(
    ("field", "value"),
    [("origin", "elsewhere"), ("uploader", "mallory"), ("checksum", "md5:" + "0" * 32)],
)
def test_an_edited_line_is_refused_whole_naming_the_line(
    sites: Sites, tmp_path: Path, field: str, value: str
) -> None:
    mountain, ucsd = sites
    export = _export(mountain, tmp_path / "disk", {"f/1": b"1" * 50, "f/2": b"2" * 60})
    lines = _lines(export)
    lines[2][field] = value
    _rewrite(export, lines)
    r = _ingest(ucsd, tmp_path / "disk")
    assert r.status_code == 400, r.text
    body = r.json()
    assert "mis-signed" in body["reason"] and "line 3 ('f/2')" in body["reason"]
    assert "--accept-unsigned" in body["suggested_remedy"]
    assert _catalogue(ucsd) == {}


def test_a_forged_header_or_a_disk_signed_with_another_password_is_refused(
    sites: Sites, tmp_path: Path
) -> None:
    mountain, ucsd = sites
    export = _export(mountain, tmp_path / "disk", {"g/1": b"x" * 10})
    lines = _lines(export)
    forged = [dict(lines[0], created_time="2020-01-01T00:00:00Z"), *lines[1:]]
    _rewrite(export, forged)
    r = _ingest(ucsd, tmp_path / "disk")
    assert r.status_code == 400 and "header (line 1)" in r.json()["reason"], r.text
    # A forger who knows the format but not the password: a fresh salt signs nothing.
    _rewrite(export, [dict(lines[0], key=dict(lines[0]["key"], salt="AAAAAAAAAAAAAAAAAAAAAA")),
                      *lines[1:]])  # fmt: skip
    r = _ingest(ucsd, tmp_path / "disk")
    assert r.status_code == 400 and "mis-signed" in r.json()["reason"], r.text
    assert _catalogue(ucsd) == {}


def test_an_unsigned_disk_is_refused_and_the_override_is_logged(
    sites: Sites, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    mountain, ucsd = sites
    export = _export(mountain, tmp_path / "disk", {"u/1": b"u" * 30})
    lines = _lines(export)
    unsigned = [{k: v for k, v in line.items() if k not in (SIG, "key")} for line in lines]
    unsigned[1]["uploader"] = "someone"
    _rewrite(export, unsigned)
    r = _ingest(ucsd, tmp_path / "disk")
    assert r.status_code == 400, r.text
    assert "unsigned" in r.json()["reason"] and "--accept-unsigned" in r.json()["suggested_remedy"]
    assert _catalogue(ucsd) == {}
    with caplog.at_level(logging.WARNING, logger="librarian_server.services.sneakernet.ingest"):
        done = _events(_ingest(ucsd, tmp_path / "disk", accept_unsigned=True))[-1]["ingest"]
    assert done["committed"] == 1
    assert [p["reason"] for p in done["unverified"]] == [
        "unsigned: its manifest carries no signature"
    ]
    assert any("SIGNATURE OVERRIDE" in m and "admin" in m for m in caplog.messages)
    assert _catalogue(ucsd) == {"u/1": ("mountain", "someone")}  # taken on trust, as asked


def test_the_override_also_takes_a_mis_signed_disk(sites: Sites, tmp_path: Path) -> None:
    mountain, ucsd = sites
    export = _export(mountain, tmp_path / "disk", {"o/1": b"o" * 30})
    lines = _lines(export)
    lines[1]["origin"] = "edited"
    _rewrite(export, lines)
    done = _events(_ingest(ucsd, tmp_path / "disk", accept_unsigned=True))[-1]["ingest"]
    assert done["committed"] == 1 and "mis-signed" in done["unverified"][0]["reason"]


def test_a_disk_lists_names_by_the_rule(sites: Sites, tmp_path: Path) -> None:
    """A signed line with a confusable name is refused alone; an NFD name is stored NFC
    (the override lets this test write such lines; the rule applies all the same)."""
    mountain, ucsd = sites
    export = _export(mountain, tmp_path / "disk", {"r/ok": b"k" * 20, "r/x": b"x" * 20})
    lines = _lines(export)
    nfd = unicodedata.normalize("NFD", "r/caf\u00e9")
    lines[1]["name"], lines[2]["name"] = nfd, "r/a\u2215b"
    extra = [dict(lines[2], name=n) for n in ("r/ ", "r/\u2024\u2024")]
    _rewrite(export, [*lines[:-1], *extra, lines[-1]])
    done = _events(_ingest(ucsd, tmp_path / "disk", accept_unsigned=True))[-1]["ingest"]
    assert done["committed"] == 1
    assert sorted(p["name"] for p in done["bad"]) == ["r/ ", "r/a\u2215b", "r/\u2024\u2024"]
    assert list(_catalogue(ucsd)) == ["r/caf\u00e9"]
