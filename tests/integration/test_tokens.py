"""Token lifetimes and lineage, listing and revocation, disabled users."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from librarian_server.orm import ApiToken, utcnow
from librarian_server.services.accounts import auth as auth_service
from librarian_server.services.accounts import passwords
from librarian_server.services.accounts.tokens import generation, set_user_disabled
from tests.integration.conftest import PASSWORD, Site


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _expiry(body: dict[str, object]) -> datetime:
    return datetime.fromisoformat(str(body["expires_at"]))


def test_every_token_expires_within_the_site_maximum(make_site: Callable[..., Site]) -> None:
    site: Site = make_site(token_max_lifetime_seconds=3600)
    before = utcnow()
    unbounded = site.http.post("/api/v2/tokens", json={}, auth=site.auth()).json()
    assert before + timedelta(seconds=3590) < _expiry(unbounded) <= utcnow() + timedelta(hours=1)
    # Longer than the site allows but within the wire's ten years: capped to the site's hour.
    year = site.http.post("/api/v2/tokens", json={"expires_in_seconds": 365 * 86_400},
                          auth=site.auth())  # fmt: skip
    assert year.status_code == 200, year.text
    assert _expiry(year.json()) <= utcnow() + timedelta(hours=1)
    # Beyond any lifetime a token may ask for: refused with the error body, never a 500.
    huge = site.http.post("/api/v2/tokens", json={"expires_in_seconds": 10**12}, auth=site.auth())
    assert huge.status_code == 400 and "expires_in_seconds" in huge.json()["reason"]
    short = site.http.post("/api/v2/tokens", json={"expires_in_seconds": 60}, auth=site.auth())
    assert _expiry(short.json()) <= utcnow() + timedelta(seconds=60)


def test_default_maximum_is_ninety_days(site: Site) -> None:
    body = site.http.post("/api/v2/tokens", json={}, auth=site.auth()).json()
    assert _expiry(body) <= utcnow() + timedelta(days=90)
    assert _expiry(body) > utcnow() + timedelta(days=89)


def test_a_child_token_never_outlives_its_parent(site: Site) -> None:
    parent = site.http.post(
        "/api/v2/tokens", json={"expires_in_seconds": 600}, auth=site.auth()
    ).json()
    child = site.http.post(
        "/api/v2/tokens", json={"expires_in_seconds": 86_400}, headers=_bearer(parent["token"])
    ).json()
    assert _expiry(child) == _expiry(parent)
    grandchild = site.http.post("/api/v2/tokens", json={}, headers=_bearer(child["token"])).json()
    assert _expiry(grandchild) == _expiry(parent)
    listed = {t["id"]: t for t in site.http.get("/api/v2/tokens", auth=site.auth()).json()}
    assert listed[child["id"]]["parent_id"] == parent["id"]
    assert listed[grandchild["id"]]["parent_id"] == child["id"]
    assert listed[parent["id"]]["parent_id"] is None
    assert all("token" not in t for t in listed.values())  # never the secret


def test_listing_is_per_user_and_admins_see_all(site: Site) -> None:
    mine = site.http.post("/api/v2/tokens", json={"description": "w"}, auth=site.auth()).json()
    theirs = site.http.post(
        "/api/v2/tokens", json={"description": "r"}, auth=site.auth("reader")
    ).json()
    assert [t["id"] for t in site.http.get("/api/v2/tokens", auth=site.auth()).json()] == [
        mine["id"]
    ]
    r = site.http.get("/api/v2/tokens", params={"all": "true"}, auth=site.auth())
    assert r.status_code == 403 and r.json()["suggested_remedy"]
    everyone = site.http.get("/api/v2/tokens", params={"all": "true"}, auth=site.auth("admin"))
    by_id = {t["id"]: t["user"] for t in everyone.json()}
    assert by_id[mine["id"]] == "writer" and by_id[theirs["id"]] == "reader"
    assert site.http.get("/api/v2/tokens").status_code == 401


def test_revoking_a_token_revokes_its_children_at_once(site: Site) -> None:
    parent = site.http.post("/api/v2/tokens", json={}, auth=site.auth()).json()
    child = site.http.post("/api/v2/tokens", json={}, headers=_bearer(parent["token"])).json()
    grandchild = site.http.post("/api/v2/tokens", json={}, headers=_bearer(child["token"])).json()
    other = site.http.post("/api/v2/tokens", json={}, auth=site.auth()).json()
    for t in (parent, child, grandchild, other):  # fill the credential cache
        assert site.http.get("/api/v2/ping", headers=_bearer(t["token"])).status_code == 200
    with site.session() as s:
        before = generation(s)
    r = site.http.delete(f"/api/v2/tokens/{child['id']}", auth=site.auth())
    assert r.status_code == 200 and r.json()["revoked"] == [child["id"], grandchild["id"]]
    with site.session() as s:
        assert generation(s) == before + 1
    for t in (child, grandchild):
        r = site.http.get("/api/v2/ping", headers=_bearer(t["token"]))
        assert r.status_code == 401 and "revoked" in r.json()["reason"]
    for t in (parent, other):
        assert site.http.get("/api/v2/ping", headers=_bearer(t["token"])).status_code == 200
    # A token may revoke itself (the parent here), and then it is gone.
    r = site.http.delete(f"/api/v2/tokens/{parent['id']}", headers=_bearer(parent["token"]))
    assert r.status_code == 200
    assert site.http.get("/api/v2/ping", headers=_bearer(parent["token"])).status_code == 401
    with site.session() as s:
        assert s.scalars(select(ApiToken.id)).all() == [other["id"]]


def test_revoking_someone_elses_token(site: Site) -> None:
    theirs = site.http.post("/api/v2/tokens", json={}, auth=site.auth("reader")).json()
    r = site.http.delete(f"/api/v2/tokens/{theirs['id']}", auth=site.auth())
    assert r.status_code == 404 and "token list" in r.json()["suggested_remedy"]
    assert site.http.delete("/api/v2/tokens/999999", auth=site.auth()).status_code == 404
    assert site.http.delete(f"/api/v2/tokens/{2**63}", auth=site.auth()).status_code == 400
    assert site.http.delete(f"/api/v2/tokens/{2**31}", auth=site.auth()).status_code == 400
    assert site.http.delete(f"/api/v2/tokens/{theirs['id']}").status_code == 401
    r = site.http.delete(f"/api/v2/tokens/{theirs['id']}", auth=site.auth("admin"))
    assert r.status_code == 200
    assert site.http.get("/api/v2/ping", headers=_bearer(theirs["token"])).status_code == 401


def test_disabled_users_are_refused_at_once(site: Site) -> None:
    token = site.http.post("/api/v2/tokens", json={}, auth=site.auth()).json()["token"]
    assert site.http.get("/api/v2/ping", auth=site.auth()).status_code == 200  # cached now
    assert site.http.get("/api/v2/ping", headers=_bearer(token)).status_code == 200
    with site.factory.begin() as s:
        set_user_disabled(s, "writer", True)
    r = site.http.get("/api/v2/ping", auth=site.auth())
    assert r.status_code == 401 and "disabled" in r.json()["reason"]
    assert site.http.get("/api/v2/ping", headers=_bearer(token)).status_code == 401
    # A wrong password for a disabled account says nothing about the account.
    r = site.http.get("/api/v2/ping", auth=("writer", "wrong"))
    assert r.status_code == 401 and "disabled" not in r.json()["reason"]
    with site.factory.begin() as s:
        set_user_disabled(s, "writer", False)
    assert site.http.get("/api/v2/ping", auth=("writer", PASSWORD)).status_code == 200
    assert site.http.get("/api/v2/ping", headers=_bearer(token)).status_code == 200


def test_a_revocation_does_not_make_cached_logins_pay_the_kdf_again(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real = passwords.verify_password

    def counting(password: str, encoded: str) -> bool:
        calls.append(password)
        return real(password, encoded)

    monkeypatch.setattr(auth_service, "verify_password", counting)
    assert site.http.get("/api/v2/ping", auth=site.auth()).status_code == 200
    assert site.http.get("/api/v2/ping", auth=site.auth("reader")).status_code == 200
    assert len(calls) == 2
    token = site.http.post("/api/v2/tokens", json={}, auth=site.auth()).json()
    assert site.http.delete(f"/api/v2/tokens/{token['id']}", auth=site.auth()).status_code == 200
    assert site.http.get("/api/v2/ping", auth=site.auth()).status_code == 200
    with site.factory.begin() as s:
        set_user_disabled(s, "reader", True)
    r = site.http.get("/api/v2/ping", auth=site.auth("reader"))
    assert r.status_code == 401 and "disabled" in r.json()["reason"]
    assert len(calls) == 2  # re-checked from the account row, not by the KDF


def test_absurd_lifetimes_are_capped_not_errors(site: Site) -> None:
    r = site.http.post("/api/v2/tokens", json={"expires_in_seconds": 10**400}, auth=site.auth())
    assert r.status_code in (200, 400), r.text
    if r.status_code == 200:
        assert _expiry(r.json()) <= utcnow() + timedelta(days=90)
