"""Out-of-range ids and numbers answer 400 with the error body; Range answers follow RFC 9110."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.conftest import Site
from tests.integration.helpers import upload

HUGE = 2**63
JUST_PAST = 2**31


def _bad_request(response: Any) -> dict[str, Any]:
    assert response.status_code == 400, (response.status_code, response.text)
    body: dict[str, Any] = response.json()
    assert body["reason"] and body["suggested_remedy"]
    return body


@pytest.mark.parametrize("value", [HUGE, JUST_PAST, 0, -1])
def test_ids_outside_the_row_range_are_400_not_500(site: Site, value: int) -> None:
    http, writer, admin = site.http, site.auth(), site.auth("admin")
    _bad_request(http.put(f"/api/v2/upload/{value}", content=b"x", auth=writer))
    _bad_request(http.post("/api/v2/upload/cancel", json={"transfer_ids": [value]}, auth=writer))
    _bad_request(
        http.post("/api/v2/upload/commit", json={"files": [{"transfer_id": value}]}, auth=writer)
    )
    _bad_request(http.post(f"/api/v2/transfers/{value}/retry", auth=admin))
    _bad_request(http.post(f"/api/v2/transfers/{value}/cancel", auth=admin))
    # The peer protocol: an admin is not a peer, but the body is refused first (400).
    clone = {"source": "elsewhere", "source_transfer_ids": [value]}
    _bad_request(http.post("/api/v2/clone/status", json=clone, auth=admin))
    _bad_request(http.put(f"/api/v2/clone/{value}", content=b"x", auth=admin))
    complete = {
        "source": "elsewhere",
        "transfer_manager": "http",
        "files": [{"transfer_id": value, "source_transfer_id": 1}],
    }
    _bad_request(http.post("/api/v2/clone/complete", json=complete, auth=admin))
    header = b'{"transfer_ids": [%d]}\n' % value
    _bad_request(http.post("/api/v2/upload/bundle", content=header, auth=writer))


def test_an_id_in_range_that_names_nothing_is_still_404(site: Site) -> None:
    r = site.http.put(f"/api/v2/upload/{JUST_PAST - 1}", content=b"x", auth=site.auth())
    assert r.status_code == 404, r.text
    assert r.json()["error"] == "NotFound"


def test_sizes_and_lifetimes_are_bounded(site: Site) -> None:
    http, writer = site.http, site.auth()
    _bad_request(http.post("/api/v2/tokens", json={"expires_in_seconds": 10**12}, auth=writer))
    ok = http.post("/api/v2/tokens", json={"expires_in_seconds": 3600}, auth=writer)
    assert ok.status_code == 200, ok.text
    _bad_request(
        http.post(
            "/api/v2/upload/stage", json={"files": [{"name": "a", "size": HUGE}]}, auth=writer
        )
    )
    _bad_request(http.get("/api/v2/search", params={"min_size": HUGE}, auth=writer))
    _bad_request(http.get("/api/v2/transfers", params={"limit": HUGE}, auth=site.auth("admin")))


def test_range_answers(site: Site) -> None:
    http, auth = site.http, site.auth()
    data = bytes(range(100))
    upload(http, auth, "r.bin", data)
    url = "/api/v2/download/r.bin"

    part = http.get(url, headers={"Range": "bytes=10-19"}, auth=auth)
    assert part.status_code == 206 and part.content == data[10:20]
    assert part.headers["Content-Range"] == "bytes 10-19/100"

    for unsatisfiable in ("bytes=100-", "bytes=-0", "bytes=50-40", "bytes=abc", "bytes=0-1,5-6"):
        r = http.get(url, headers={"Range": unsatisfiable}, auth=auth)
        assert r.status_code == 416, (unsatisfiable, r.text)
        assert r.headers["Content-Range"] == "bytes */100", unsatisfiable
        assert r.json()["reason"] and r.json()["suggested_remedy"]

    for ignored in ("items=0-5", "lines=1-2", "x"):  # units other than bytes: the whole file
        r = http.get(url, headers={"Range": ignored}, auth=auth)
        assert r.status_code == 200, (ignored, r.text)
        assert r.content == data and "Content-Range" not in r.headers


def test_nul_characters_are_400_everywhere(site: Site) -> None:
    http, admin = site.http, site.auth("admin")
    _bad_request(http.get("/api/v2/search", params={"name": "a\x00b"}, auth=admin))
    _bad_request(http.get("/api/v2/transfers", params={"peer": "x\x00"}, auth=admin))
    _bad_request(
        http.post(
            "/api/v2/upload/stage", json={"files": [{"name": "a\x00", "size": 1}]}, auth=admin
        )
    )
    _bad_request(http.post("/api/v2/sneakernet/ingest", json={"path": "/tmp/a\x00b"}, auth=admin))
    r = http.get("/vospace/nodes/x", params={"uri": "vos://x\x00"}, auth=admin)
    assert r.status_code == 400 and r.text.startswith("InvalidArgument"), r.text
