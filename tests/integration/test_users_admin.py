"""Account administration over the API: users, own passwords, the audit log.

The in-process app on a real catalogue (SQLite and PostgreSQL), with its real guard,
credential cache and login throttle: a change to an account must hold on the very next
request made with a credential that was verified (and cached) before it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from librarian_server.orm import ApiToken, LoginFailure, Peer, User
from tests.integration.conftest import PASSWORD, Site
from tests.integration.helpers import upload
from tests.integration.server_cli import ServerCommand, server_command

API = "/api/v2"
NEW_PASSWORD = "a much longer secret phrase"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _token(site: Site, user: str) -> str:
    r = site.http.post(f"{API}/tokens", json={}, auth=site.auth(user))
    assert r.status_code == 200, r.text
    return str(r.json()["token"])


def _users(site: Site) -> dict[str, dict[str, Any]]:
    r = site.http.get(f"{API}/users", auth=site.auth("admin"))
    assert r.status_code == 200, r.text
    return {u["name"]: u for u in r.json()["users"]}


def _audit(site: Site, **params: Any) -> dict[str, Any]:
    r = site.http.get(f"{API}/audit", params=params, auth=site.auth("admin"))
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _patch(site: Site, name: str, who: str = "admin", **body: Any) -> Any:
    return site.http.patch(f"{API}/users/{name}", json=body, auth=site.auth(who))


ADMIN_ROUTES = [
    ("GET", "/users", None),
    ("POST", "/users", {"name": "eve", "permission": "admin", "password": NEW_PASSWORD}),
    ("PATCH", "/users/writer", {"permission": "admin"}),
    ("DELETE", "/users/writer", None),
    ("GET", "/audit", None),
]


@pytest.mark.parametrize("who", ["reader", "writer"])
def test_non_admins_are_refused_every_admin_route(site: Site, who: str) -> None:
    for method, path, body in ADMIN_ROUTES:
        r = site.http.request(method, API + path, json=body, auth=site.auth(who))
        assert r.status_code == 403, (method, path, r.text)
        assert r.json()["code"] == "permission_denied"
        anonymous = site.http.request(method, API + path, json=body)
        assert anonymous.status_code == 401, (method, path)
    assert _users(site)["writer"]["permission"] == "read-append"  # nothing changed
    assert "eve" not in _users(site)


def test_the_listing_shows_levels_states_and_live_tokens(site: Site) -> None:
    _token(site, "writer")
    _token(site, "writer")
    listed = _users(site)
    assert list(listed) == ["admin", "reader", "writer"]
    writer = listed["writer"]
    assert writer["permission"] == "read-append" and writer["disabled"] is False
    assert writer["live_tokens"] == 2 and writer["last_token_created"] is not None
    assert listed["reader"]["live_tokens"] == 0 and listed["reader"]["last_token_created"] is None
    assert "password" not in json.dumps(listed) and "hash" not in json.dumps(listed)


def test_an_admin_creates_a_user_who_can_log_in(site: Site) -> None:
    secret = "bob's own passphrase"
    body = {"name": "bob", "permission": "read-append", "password": secret}
    r = site.http.post(f"{API}/users", json=body, auth=site.auth("admin"))
    assert r.status_code == 201, r.text
    assert r.json()["name"] == "bob" and r.json()["permission"] == "read-append"
    assert secret not in r.text and "password" not in r.json()
    assert site.http.get(f"{API}/tokens", auth=("bob", secret)).status_code == 200

    again = site.http.post(f"{API}/users", json=body, auth=site.auth("admin"))
    assert again.status_code == 409 and again.json()["code"] == "conflict"
    assert secret not in again.text
    weak = {"name": "carol", "permission": "read-only", "password": "short"}
    r = site.http.post(f"{API}/users", json=weak, auth=site.auth("admin"))
    assert r.status_code == 400 and r.json()["code"] == "invalid_request"
    for bad in ({**weak, "password": ""}, {**weak, "name": "a/b", "password": secret}):
        r = site.http.post(f"{API}/users", json=bad, auth=site.auth("admin"))
        assert r.status_code == 400, r.text
    assert "carol" not in _users(site)


def test_disabling_stops_a_cached_token_and_password_at_once(site: Site) -> None:
    token = _token(site, "writer")
    # Verified once each, so both sit in the credential cache.
    assert site.http.get(f"{API}/tokens", headers=_bearer(token)).status_code == 200
    assert site.http.get(f"{API}/tokens", auth=site.auth("writer")).status_code == 200

    r = _patch(site, "writer", disabled=True)
    assert r.status_code == 200 and r.json()["disabled"] is True
    assert site.http.get(f"{API}/tokens", headers=_bearer(token)).status_code == 401
    assert site.http.get(f"{API}/tokens", auth=site.auth("writer")).status_code == 401

    assert _patch(site, "writer", disabled=False).json()["disabled"] is False
    assert site.http.get(f"{API}/tokens", headers=_bearer(token)).status_code == 200


def test_lowering_a_level_holds_on_the_next_request(site: Site) -> None:
    token = _token(site, "writer")
    upload(site.http, site.auth("writer"), "obs/before", b"bytes")
    stage = {"files": [{"name": "obs/after", "size": 5, "checksum": "md5:" + "0" * 32}]}
    r = _patch(site, "writer", permission="read-only")
    assert r.status_code == 200 and r.json()["permission"] == "read-only"
    by_password = site.http.post(f"{API}/upload/stage", json=stage, auth=site.auth("writer"))
    by_token = site.http.post(f"{API}/upload/stage", json=stage, headers=_bearer(token))
    assert by_password.status_code == by_token.status_code == 403, by_token.text
    assert site.http.get(f"{API}/files/obs/before", headers=_bearer(token)).status_code == 200


def test_the_last_enabled_admin_cannot_remove_itself(site: Site) -> None:
    for change in ({"disabled": True}, {"permission": "read-append"}):
        r = _patch(site, "admin", **change)
        assert r.status_code == 409 and r.json()["code"] == "last_admin", r.text
    r = site.http.delete(f"{API}/users/admin", auth=site.auth("admin"))
    assert r.status_code == 409 and r.json()["code"] == "last_admin"
    assert _users(site)["admin"] == {**_users(site)["admin"], "permission": "admin"}

    # A second admin makes it possible; then that one is the last and is held to the rule.
    assert _patch(site, "writer", permission="admin").status_code == 200
    assert _patch(site, "admin", permission="read-only").status_code == 200
    r = _patch(site, "writer", who="writer", disabled=True)
    assert r.status_code == 409 and r.json()["code"] == "last_admin"
    # A disabled admin does not count as one.
    assert _patch(site, "admin", who="writer", permission="admin", disabled=True).status_code == 200
    r = site.http.delete(f"{API}/users/writer", auth=site.auth("writer"))
    assert r.status_code == 409 and r.json()["code"] == "last_admin"


def test_deleting_a_user_drops_its_tokens_and_keeps_its_files(site: Site) -> None:
    token = _token(site, "writer")
    upload(site.http, site.auth("writer"), "obs/kept", b"still here")
    assert site.http.get(f"{API}/tokens", headers=_bearer(token)).status_code == 200

    r = site.http.delete(f"{API}/users/writer", auth=site.auth("admin"))
    assert r.status_code == 200, r.text
    assert r.json() == {"name": "writer", "tokens_revoked": 1}
    assert site.http.get(f"{API}/tokens", headers=_bearer(token)).status_code == 401
    assert site.http.get(f"{API}/tokens", auth=site.auth("writer")).status_code == 401
    info = site.http.get(f"{API}/files/obs/kept", auth=site.auth("admin"))
    assert info.status_code == 200 and info.json()["uploader"] == "writer"
    with site.session() as session:
        assert session.scalars(select(ApiToken.id)).all() == []
    assert site.http.delete(f"{API}/users/writer", auth=site.auth("admin")).status_code == 404
    assert _patch(site, "nobody", disabled=True).status_code == 404


def test_the_account_a_peer_uses_cannot_be_deleted(site: Site) -> None:
    body = {"name": "ucsd", "permission": "peer", "password": NEW_PASSWORD}
    assert site.http.post(f"{API}/users", json=body, auth=site.auth("admin")).status_code == 201
    with site.factory.begin() as session:
        session.add(Peer(name="ucsd", url="http://ucsd.example", username="x", sealed_password="-"))
    r = site.http.delete(f"{API}/users/ucsd", auth=site.auth("admin"))
    assert r.status_code == 409 and r.json()["code"] == "account_in_use"
    assert "remove-peer ucsd" in r.json()["suggested_remedy"]
    assert "ucsd" in _users(site)


def _change(site: Site, who: str = "writer", **body: Any) -> Any:
    payload = {"current_password": PASSWORD, "new_password": NEW_PASSWORD, **body}
    return site.http.put(f"{API}/users/me/password", json=payload, auth=site.auth(who))


def _failures(site: Site, name: str) -> int:
    with site.session() as session:
        row = session.get(LoginFailure, f"user:{name}")
        return row.failures if row is not None else 0


def test_changing_your_password(site: Site) -> None:
    kept = _token(site, "writer")
    wrong = _change(site, current_password="not my password")
    assert wrong.status_code == 403 and wrong.json()["code"] == "permission_denied"
    assert _failures(site, "writer") == 1  # counted, although the request was refused
    weak = _change(site, new_password="abc")
    assert weak.status_code == 400 and weak.json()["code"] == "invalid_request"
    assert _change(site, new_password="").status_code == 400

    done = _change(site)
    assert done.status_code == 200, done.text
    assert done.json() == {"user": "writer", "tokens_revoked": 0}
    assert NEW_PASSWORD not in done.text and PASSWORD not in done.text
    assert _failures(site, "writer") == 0
    assert site.http.get(f"{API}/tokens", auth=site.auth("writer")).status_code == 401
    assert site.http.get(f"{API}/tokens", auth=("writer", NEW_PASSWORD)).status_code == 200
    assert site.http.get(f"{API}/tokens", headers=_bearer(kept)).status_code == 200


def test_revoke_tokens_keeps_only_the_token_of_the_request(site: Site) -> None:
    parent = _token(site, "writer")
    other = _token(site, "writer")
    r = site.http.post(f"{API}/tokens", json={}, headers=_bearer(parent))
    child = r.json()["token"]  # made with ``parent``: the request's own token below
    body = {"current_password": PASSWORD, "new_password": NEW_PASSWORD, "revoke_tokens": True}
    r = site.http.put(f"{API}/users/me/password", json=body, headers=_bearer(child))
    assert r.status_code == 200, r.text
    assert r.json()["tokens_revoked"] == 2
    assert site.http.get(f"{API}/tokens", headers=_bearer(child)).status_code == 200
    for gone in (parent, other):
        assert site.http.get(f"{API}/tokens", headers=_bearer(gone)).status_code == 401


def test_wrong_current_passwords_lock_the_user_out(make_site: Any) -> None:
    site: Site = make_site(login_max_failures=2, login_lockout_seconds=60)
    for _ in range(2):
        assert _change(site, current_password="guess").status_code == 403
    locked = _change(site, current_password="guess")
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0
    assert site.http.get(f"{API}/tokens", auth=site.auth("writer")).status_code == 429


def test_admin_actions_are_audited_without_secrets(site: Site) -> None:
    secret = "bob's own passphrase"
    body = {"name": "bob", "permission": "read-only", "password": secret}
    site.http.post(f"{API}/users", json=body, auth=site.auth("admin"))
    _patch(site, "bob", permission="read-append", disabled=True)
    _patch(site, "bob", disabled=True)  # no change: no event
    token = site.http.post(f"{API}/tokens", json={}, auth=site.auth("writer")).json()
    own = site.http.post(f"{API}/tokens", json={}, auth=site.auth("admin")).json()
    assert site.http.delete(f"{API}/tokens/{own['id']}", auth=site.auth("admin")).is_success
    assert site.http.delete(f"{API}/tokens/{token['id']}", auth=site.auth("admin")).is_success
    assert _change(site).status_code == 200
    site.http.delete(f"{API}/users/bob", auth=site.auth("admin"))

    page = _audit(site)
    seen = [(e["kind"], e["actor"], e["subject"]) for e in page["events"]]
    assert seen == [
        ("admin.user_deleted", "admin", "bob"),
        ("admin.password_changed", "writer", "writer"),
        ("admin.token_revoked", "admin", "writer"),  # not the admin's own token
        ("admin.user_updated", "admin", "bob"),
        ("admin.user_created", "admin", "bob"),
    ]
    events = {e["kind"]: e for e in page["events"]}
    assert events["admin.user_updated"]["detail"] == {
        "permission": {"old": "read-only", "new": "read-append"},
        "disabled": {"old": False, "new": True},
    }
    assert events["admin.user_created"]["detail"] == {"permission": "read-only"}
    assert events["admin.token_revoked"]["detail"]["token_id"] == token["id"]
    text = json.dumps(page)
    for hidden in (secret, PASSWORD, NEW_PASSWORD, token["token"], own["token"]):
        assert hidden not in text
    ids = [e["id"] for e in page["events"]]
    assert ids == sorted(ids, reverse=True) and page["next_after"] is None


def test_the_audit_log_pages_by_id(site: Site) -> None:
    for flag in (True, False, True, False, True):
        assert _patch(site, "reader", disabled=flag).status_code == 200
    first = _audit(site, limit=2)
    assert len(first["events"]) == 2 and first["next_after"] == first["events"][-1]["id"]
    second = _audit(site, limit=2, after=first["next_after"])
    third = _audit(site, limit=2, after=second["next_after"])
    assert third["next_after"] is None and len(third["events"]) == 1
    ids = [e["id"] for p in (first, second, third) for e in p["events"]]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 5
    bad = site.http.get(f"{API}/audit", params={"limit": 0}, auth=site.auth("admin"))
    assert bad.status_code == 400 and bad.json()["code"] == "validation_error"


@pytest.fixture
def server_cli(
    site: Site,
    database_url: str | None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> ServerCommand:
    return server_command(site, database_url, monkeypatch, capsys)


def test_server_cli_user_commands_are_audited(
    site: Site, server_cli: ServerCommand, tmp_path: Path
) -> None:
    secret = tmp_path / "pw"
    secret.write_text(NEW_PASSWORD + "\n")
    assert (
        server_cli(
            "create-user", "dave", "--level", "read-only", "--password-file", str(secret)
        ).code
        == 0
    )
    assert server_cli("set-password", "dave", "--password-file", str(secret)).code == 0
    assert server_cli("disable-user", "dave").code == 0
    assert server_cli("enable-user", "dave").code == 0

    events = _audit(site)["events"]
    assert [e["kind"] for e in events] == [
        "admin.user_updated",
        "admin.user_updated",
        "admin.password_changed",
        "admin.user_created",
    ]
    assert {e["subject"] for e in events} == {"dave"}
    assert all(e["actor"].startswith("librarian-server:") for e in events)
    assert events[0]["detail"] == {"disabled": {"old": True, "new": False}}
    assert NEW_PASSWORD not in json.dumps(events)
    with site.session() as session:
        user = session.scalar(select(User).where(User.name == "dave"))
        assert user is not None and not user.disabled
