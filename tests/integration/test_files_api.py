"""Reading the catalogue: info, streamed download with Range, search and paging."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from librarian_server.orm import File
from tests.integration.conftest import Site
from tests.integration.helpers import md5, upload


def test_info_lists_instances(site: Site) -> None:
    upload(site.http, site.auth(), "obs/x.g3", b"12345")
    r = site.http.get("/api/v2/files/obs/x.g3", auth=site.auth("reader"))
    assert r.status_code == 200
    info = r.json()
    assert info["size"] == 5 and info["checksum"] == md5(b"12345")
    (instance,) = info["instances"]
    assert instance["store"] == "local" and instance["available"] is True
    assert instance["path"].endswith("-x.g3")


def test_info_unknown_is_404_with_remedy(site: Site) -> None:
    r = site.http.get("/api/v2/files/nope", auth=site.auth("reader"))
    assert r.status_code == 404
    assert r.json()["suggested_remedy"]


def test_reads_need_an_account_by_default(site: Site) -> None:
    for path in ("/api/v2/search", "/api/v2/files/x", "/api/v2/download/x"):
        assert site.http.get(path).status_code == 401


def test_anonymous_read_when_allowed(make_site: Callable[..., Site]) -> None:
    open_site = make_site(allow_anonymous_read=True)
    assert open_site.http.get("/api/v2/search").status_code == 200
    assert (
        open_site.http.post(
            "/api/v2/upload/stage", json={"files": [{"name": "a", "size": 1}]}
        ).status_code
        == 401
    )


def test_download_whole_and_ranges(site: Site) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    upload(site.http, site.auth(), "big.bin", data)
    auth = site.auth("reader")
    r = site.http.get("/api/v2/download/big.bin", auth=auth)
    assert r.status_code == 200 and r.content == data
    assert r.headers["X-Librarian-Checksum"] == md5(data)
    assert r.headers["Accept-Ranges"] == "bytes"
    r = site.http.get("/api/v2/download/big.bin", auth=auth, headers={"Range": "bytes=100-199"})
    assert r.status_code == 206 and r.content == data[100:200]
    assert r.headers["Content-Range"] == f"bytes 100-199/{len(data)}"
    r = site.http.get("/api/v2/download/big.bin", auth=auth, headers={"Range": "bytes=-10"})
    assert r.status_code == 206 and r.content == data[-10:]
    r = site.http.get("/api/v2/download/big.bin", auth=auth, headers={"Range": "bytes=3145700-"})
    assert r.content == data[3145700:]
    r = site.http.get(
        "/api/v2/download/big.bin", auth=auth, headers={"Range": f"bytes={len(data)}-"}
    )
    assert r.status_code == 416


def test_download_of_missing_copy_is_404(site: Site) -> None:
    upload(site.http, site.auth(), "gone", b"data")
    for path in (site.settings.store_dir / "files").rglob("*-gone"):
        path.unlink()
    r = site.http.get("/api/v2/download/gone", auth=site.auth())
    assert r.status_code == 404 and "no copy" in r.json()["reason"]


def _names(site: Site, **params: str | int) -> list[str]:
    r = site.http.get("/api/v2/search", params=params, auth=site.auth("reader"))
    assert r.status_code == 200, r.text
    return [f["name"] for f in r.json()["files"]]


def test_search_filters(site: Site) -> None:
    for name, size in [
        ("obs/a/1.g3", 10),
        ("obs/a/2.g3", 20),
        ("obs/b/1.fits", 30),
        ("obs0/x", 40),
        ("cal/1.g3", 50),
        ("Obs/upper", 60),
    ]:
        upload(site.http, site.auth(), name, b"z" * size)
    assert _names(site, prefix="obs/") == ["obs/a/1.g3", "obs/a/2.g3", "obs/b/1.fits"]
    assert _names(site, name="obs/*") == ["obs/a/1.g3", "obs/a/2.g3", "obs/b/1.fits"]
    assert _names(site, name="*.g3") == ["cal/1.g3", "obs/a/1.g3", "obs/a/2.g3"]
    assert _names(site, name="obs/?/1.*") == ["obs/a/1.g3", "obs/b/1.fits"]
    assert _names(site, min_size=25, max_size=45) == ["obs/b/1.fits", "obs0/x"]
    assert _names(site, uploader="writer", prefix="cal") == ["cal/1.g3"]
    assert _names(site, uploader="nobody") == []
    # LIKE metacharacters in a name are literal
    upload(site.http, site.auth(), "pct%_name", b"q")
    assert _names(site, name="pct%_*") == ["pct%_name"]
    assert _names(site, name="pct_%*") == []


def test_search_by_created_time(site: Site) -> None:
    upload(site.http, site.auth(), "old", b"1")
    upload(site.http, site.auth(), "new", b"2")
    past = datetime(2020, 1, 1, tzinfo=UTC)
    with site.session() as s:
        s.execute(update(File).where(File.name == "old").values(created_time=past))
        s.commit()
    cut = (past + timedelta(days=1)).isoformat()
    assert _names(site, created_before=cut) == ["old"]
    assert _names(site, created_after=cut) == ["new"]


def test_search_pages_with_cursor(site: Site) -> None:
    for i in range(25):
        upload(site.http, site.auth(), f"page/{i:02d}", b"p")
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"prefix": "page/", "limit": 10}
        if cursor:
            params["cursor"] = cursor
        body = site.http.get("/api/v2/search", params=params, auth=site.auth()).json()
        seen += [f["name"] for f in body["files"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 3 and seen == [f"page/{i:02d}" for i in range(25)]
    bad = site.http.get("/api/v2/search", params={"cursor": "!!!"}, auth=site.auth())
    assert bad.status_code == 400
    assert site.http.get("/api/v2/search", params={"limit": 0}, auth=site.auth()).status_code == 400
