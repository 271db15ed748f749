"""The guard in front of every route: body caps per endpoint, credentials before bodies,
and the failed-login throttle (per user and per client address)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from librarian_server.services.accounts import auth as auth_service
from librarian_server.services.accounts import passwords
from tests.integration.conftest import PASSWORD, Site
from tests.integration.vospace.conftest import node_xml

MiB = 1 << 20


def _chunks(total: int, size: int = 64 << 10) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        step = min(size, total - sent)
        sent += step
        yield b" " * step


def _from(site: Site, address: str) -> TestClient:
    """A second client into the same running app, seen as coming from ``address``."""
    return TestClient(site.http.app, client=(address, 40000))


def test_json_api_bodies_are_capped_declared_or_chunked(site: Site) -> None:
    big = b"{" + b" " * (MiB + 10) + b"}"
    r = site.http.post(
        "/api/v2/tokens",
        content=big,
        auth=site.auth(),
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 413, r.text
    body = r.json()
    assert "1048576 bytes" in body["reason"] and body["suggested_remedy"]
    # No Content-Length (chunked): refused as the bytes pass the cap.
    r = site.http.post("/api/v2/tokens", content=_chunks(MiB + 10), auth=site.auth())
    assert r.status_code == 413 and r.json()["error"] == "BodyTooLarge"
    # Under the cap the same endpoint works.
    assert site.http.post("/api/v2/tokens", json={}, auth=site.auth()).status_code == 200


def test_manifests_get_the_larger_cap(site: Site) -> None:
    # 2 MiB is over the JSON cap but within the manifest cap: it reaches validation (400).
    filler = {"files": [{"name": "x" * 100, "size": 1, "checksum": "md5:0"}] * 15_000}
    r = site.http.post("/api/v2/upload/stage", json=filler, auth=site.auth())
    assert r.status_code == 400, r.text
    r = site.http.post("/api/v2/tokens", json={"description": "x" * (2 * MiB)}, auth=site.auth())
    assert r.status_code == 413


def test_caps_are_settings(make_site: Callable[..., Site]) -> None:
    site = make_site(max_manifest_body_bytes=64 << 10, max_json_body_bytes=4096)
    r = site.http.post("/api/v2/upload/commit", content=b" " * (65 << 10), auth=site.auth())
    assert r.status_code == 413 and "65536" in r.json()["reason"]
    r = site.http.post("/api/v2/tokens", json={"description": "y" * 5000}, auth=site.auth())
    assert r.status_code == 413 and "4096" in r.json()["reason"]


def test_vospace_documents_are_capped_and_files_are_not(site: Site) -> None:
    doc = node_xml("big", props={f"ivo://x#p{i}": "v" * 40 for i in range(12_000)})
    started = time.perf_counter()
    r = site.http.put("/vospace/nodes/big", content=doc, auth=site.auth())
    assert r.status_code == 413 and r.text.startswith("InvalidArgument"), r.text[:200]
    assert time.perf_counter() - started < 5
    r = site.http.put("/vospace/nodes/big", content=_chunks(300 << 10), auth=site.auth())
    assert r.status_code == 413
    # A file PUT streams to the store: no cap, but it needs an account.
    data = b"z" * (3 * MiB)
    assert site.http.put("/vospace/files/f.bin", content=data).status_code == 401
    r = site.http.put("/vospace/files/f.bin", content=data, auth=site.auth())
    assert r.status_code == 201, r.text


def test_many_properties_under_the_byte_cap_are_refused_at_parse(site: Site) -> None:
    doc = node_xml("many", props={f"ivo://x#p{i}": "v" for i in range(300)})
    assert len(doc) < 256 << 10
    started = time.perf_counter()
    r = site.http.put("/vospace/nodes/many", content=doc, auth=site.auth())
    assert r.status_code == 400 and "at most 256 properties" in r.text
    assert time.perf_counter() - started < 5
    deep = ("<a>" * 40 + "</a>" * 40).encode()
    r = site.http.put("/vospace/nodes/deep", content=deep, auth=site.auth())
    assert r.status_code == 400 and "nested deeper" in r.text
    # Two documents of 200 each cannot pile up past the per-node limit either.
    first = node_xml("pile", props={f"ivo://x#a{i}": "v" for i in range(200)})
    assert site.http.put("/vospace/nodes/pile", content=first, auth=site.auth()).status_code == 201
    second = node_xml("pile", props={f"ivo://x#b{i}": "v" for i in range(200)})
    r = site.http.post("/vospace/nodes/pile", content=second, auth=site.auth())
    assert r.status_code == 400 and "at most 256" in r.text


def test_credentials_are_checked_before_the_route(site: Site) -> None:
    for method, path in (
        ("POST", "/api/v2/upload/stage"),
        ("POST", "/api/v2/upload/commit"),
        ("PUT", "/api/v2/upload/1"),
        ("POST", "/api/v2/clone/bundle"),
        ("GET", "/api/v2/search"),
        ("POST", "/vospace/transfers/abc/phase"),
    ):
        r = site.http.request(method, path, content=b"x" * 1000)
        assert r.status_code == 401, (method, path, r.text)
        assert "WWW-Authenticate" in r.headers
    assert site.http.get("/api/v2/ping").status_code == 200
    assert site.http.get("/vospace/capabilities").status_code == 200
    r = site.http.post("/api/v2/upload/stage", content=b"{}", auth=("writer", "wrong"))
    assert r.status_code == 401 and r.json()["error"] == "AuthenticationRequired"


def test_failed_logins_lock_out_the_user_then_the_address(
    make_site: Callable[..., Site], monkeypatch: pytest.MonkeyPatch
) -> None:
    site = make_site(login_max_failures=3, login_lockout_seconds=30)
    calls: list[str] = []
    real = passwords.verify_password

    def counting(password: str, encoded: str) -> bool:
        calls.append(password)
        return real(password, encoded)

    monkeypatch.setattr(auth_service, "verify_password", counting)
    one, two, three = _from(site, "10.9.0.1"), _from(site, "10.9.0.2"), _from(site, "10.9.0.3")
    for _ in range(2):
        assert one.get("/api/v2/ping", auth=("writer", "bad")).status_code == 401
    assert two.get("/api/v2/ping", auth=("writer", "bad")).status_code == 401
    # Three failures for "writer", from two addresses: the user is locked everywhere.
    calls.clear()
    r = three.get("/api/v2/ping", auth=("writer", PASSWORD))
    assert r.status_code == 429, r.text
    assert 1 <= int(r.headers["Retry-After"]) <= 30
    assert "Retry-After" in r.json()["suggested_remedy"]
    assert calls == []  # no scrypt for a locked-out login
    assert three.get("/api/v2/ping", auth=("reader", PASSWORD)).status_code == 200
    # Per address: one address failing for three names locks that address only.
    for name in ("ghost1", "ghost2", "ghost3"):
        assert three.get("/api/v2/ping", auth=(name, "bad")).status_code == 401
    assert three.get("/api/v2/ping", auth=("reader", PASSWORD)).status_code == 429
    assert two.get("/api/v2/ping", auth=("reader", PASSWORD)).status_code == 200
    # Bearer tokens are not passwords: a locked address can still use one.
    token = two.post("/api/v2/tokens", json={}, auth=("admin", PASSWORD)).json()["token"]
    r = three.get("/api/v2/ping", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200 and r.json()["user"] == "admin"


def test_lockouts_grow_and_expire(make_site: Callable[..., Site]) -> None:
    site = make_site(login_max_failures=2, login_lockout_seconds=1)
    for _ in range(2):
        assert site.http.get("/api/v2/ping", auth=("reader", "bad")).status_code == 401
    r = site.http.get("/api/v2/ping", auth=("reader", PASSWORD))
    assert r.status_code == 429 and r.headers["Retry-After"] == "1"
    time.sleep(1.1)
    # Unlocked; one more failure now locks for twice as long.
    assert site.http.get("/api/v2/ping", auth=("reader", "bad")).status_code == 401
    assert site.http.get("/api/v2/ping", auth=("reader", PASSWORD)).headers["Retry-After"] == "2"
    time.sleep(2.1)
    assert site.http.get("/api/v2/ping", auth=("reader", PASSWORD)).status_code == 200
    # That success cleared the user's count (the address's stays, so use a fresh one).
    fresh = _from(site, "10.9.1.1")
    assert fresh.get("/api/v2/ping", auth=("reader", "bad")).status_code == 401
    assert fresh.get("/api/v2/ping", auth=("reader", PASSWORD)).status_code == 200
