"""Tokens, Basic credentials, the credential cache and permission levels."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select, update

from librarian_server.orm import ApiToken, User, utcnow
from librarian_server.services.accounts.auth import Authenticator
from tests.integration.conftest import PASSWORD, Site


def test_ping_identifies_the_user(site: Site) -> None:
    anonymous = site.http.get("/api/v2/ping").json()
    assert anonymous["user"] is None and anonymous["checksum_algorithm"] == "md5"
    me = site.http.get("/api/v2/ping", auth=site.auth("reader")).json()
    assert me["user"] == "reader" and me["permission"] == "read-only"
    assert site.http.get("/api/v2/ping", auth=("reader", "bad")).status_code == 401


def test_bearer_token_round_trip_and_expiry(site: Site) -> None:
    r = site.http.post("/api/v2/tokens", json={"description": "ci"}, auth=site.auth())
    assert r.status_code == 200
    token = r.json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert site.http.get("/api/v2/ping", headers=headers).json()["user"] == "writer"
    with site.session() as s:
        row = s.scalars(select(ApiToken)).one()
        assert row.token_hash != token and token not in row.token_hash  # only a digest stored
    short = site.http.post("/api/v2/tokens", json={"expires_in_seconds": 60}, auth=site.auth())
    short_token = short.json()["token"]
    with site.session() as s:
        s.execute(update(ApiToken).values(expires_at=utcnow() - timedelta(seconds=1)))
        s.commit()
    site.http.app.state.authenticator = Authenticator(0)  # type: ignore[attr-defined]
    r = site.http.get("/api/v2/ping", headers={"Authorization": f"Bearer {short_token}"})
    assert r.status_code == 401 and "expired" in r.json()["reason"]


def test_tokens_need_credentials(site: Site) -> None:
    assert site.http.post("/api/v2/tokens", json={}).status_code == 401


def test_garbage_authorization_is_401(site: Site) -> None:
    for header in ("Basic !!!notbase64", "Digest abc", "Bearer nonsense"):
        r = site.http.get("/api/v2/ping", headers={"Authorization": header})
        assert r.status_code == 401, header


def test_verified_password_is_cached_not_rehashed(site: Site) -> None:
    auth = Authenticator(cache_seconds=300)
    with site.session() as s:
        first = auth.basic(s, "writer", PASSWORD)
        s.execute(delete(ApiToken))
        s.execute(delete(User).where(User.name == "writer"))
        s.commit()
        # the user row is gone: only the cache can answer now
        assert auth.basic(s, "writer", PASSWORD) == first
        no_cache = Authenticator(cache_seconds=0)
        try:
            no_cache.basic(s, "writer", PASSWORD)
            raise AssertionError("expected 401")
        except Exception as exc:
            assert getattr(exc, "status_code", None) == 401


def test_password_is_stored_with_scrypt(site: Site) -> None:
    with site.session() as s:
        user = s.scalars(select(User).where(User.name == "writer")).one()
    assert user.password_hash.startswith("scrypt$") and PASSWORD not in user.password_hash


def test_stores_listing_is_admin_only(site: Site) -> None:
    assert site.http.get("/api/v2/stores", auth=site.auth("writer")).status_code == 403
    stores = site.http.get("/api/v2/stores", auth=site.auth("admin")).json()
    assert [s["name"] for s in stores] == ["local"]
