"""The dashboard's account pages: users and tokens (admins), the audit log, one's own
password; each action goes through the same rules as the API, and is audited."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from librarian_client.models import PermissionLevel
from librarian_server.orm import ApiToken, User
from tests.integration.conftest import PASSWORD, Site
from tests.integration.ui.test_ui_pages import login

JSON = {"Accept": "application/json"}


def _user(site: Site, name: str) -> User:
    with site.factory() as session:
        row = session.scalar(select(User).where(User.name == name))
        assert row is not None
        return row


def test_an_admin_disables_changes_the_level_of_and_deletes_users(site: Site) -> None:
    http, csrf = login(site, "admin")
    page = http.get("/ui/users").text
    assert 'data-user="reader"' in page and 'action="/ui/users/reader/disable"' in page
    head = {**JSON, "X-CSRF-Token": csrf}
    done = http.post("/ui/users/reader/disable", headers=head)
    assert done.status_code == 200 and done.json()["ok"], done.text
    assert _user(site, "reader").disabled
    # The disabled user's API credentials stop at once.
    assert site.http.get("/api/v2/files/x", auth=site.auth("reader")).status_code == 401
    assert http.post("/ui/users/reader/enable", headers=head).json()["ok"]
    assert not _user(site, "reader").disabled

    level = http.post("/ui/users/reader/level", data={"csrf": csrf, "level": "read-append"})
    assert level.status_code == 200 and "read-append" in level.text
    assert _user(site, "reader").permission is PermissionLevel.READAPPEND
    bad = http.post("/ui/users/reader/level", data={"csrf": csrf, "level": "emperor"})
    assert bad.status_code == 400

    # The last enabled admin cannot take themselves out.
    self_demote = http.post("/ui/users/admin/level", data={"csrf": csrf, "level": "read-only"})
    assert self_demote.status_code == 409
    assert _user(site, "admin").permission is PermissionLevel.ADMIN

    gone = http.post("/ui/users/reader/delete", headers=head)
    assert gone.status_code == 200 and gone.json()["ok"], gone.text
    with site.factory() as session:
        assert session.scalar(select(User).where(User.name == "reader")) is None

    audit = http.get("/ui/audit").text
    for kind in ("admin.user_updated", "admin.user_deleted"):
        assert kind in audit
    assert "reader" in audit and PASSWORD not in audit


def test_only_admins_see_accounts_and_the_audit_log(site: Site) -> None:
    http, csrf = login(site, "writer")
    assert http.get("/ui/users").status_code == 403
    assert http.get("/ui/audit").status_code == 403
    assert "/ui/users" not in http.get("/ui/").text
    refused = http.post("/ui/users/reader/disable", data={"csrf": csrf})
    assert refused.status_code == 403
    assert not _user(site, "reader").disabled
    assert http.get("/ui/account").status_code == 200


def test_one_changes_ones_own_password_and_revokes_ones_tokens(site: Site) -> None:
    made = site.http.post("/api/v2/tokens", json={}, auth=site.auth("writer"))
    assert made.status_code == 200
    token_id = made.json()["id"]
    http, csrf = login(site, "writer")
    page = http.get("/ui/account").text
    assert f'data-token="{token_id}"' in page and "(this session)" in page
    wrong = http.post(
        "/ui/account/password",
        data={
            "csrf": csrf,
            "current_password": "not it",
            "new_password": "a much better one 42",
            "repeat_password": "a much better one 42",
        },
    )
    assert wrong.status_code == 403
    differ = http.post(
        "/ui/account/password",
        data={
            "csrf": csrf,
            "current_password": PASSWORD,
            "new_password": "x1",
            "repeat_password": "x2",
        },
    )
    assert differ.status_code == 400
    changed = http.post(
        "/ui/account/password",
        data={
            "csrf": csrf,
            "current_password": PASSWORD,
            "new_password": "a much better one 42",
            "repeat_password": "a much better one 42",
        },
    )
    assert changed.status_code == 200, changed.text
    assert site.http.get("/api/v2/files/x", auth=site.auth("writer")).status_code == 401
    ok = site.http.get("/api/v2/files/x", auth=("writer", "a much better one 42"))
    assert ok.status_code == 404  # authenticated; the file does not exist

    revoked = http.post(f"/ui/tokens/{token_id}/revoke", data={"csrf": csrf})
    assert revoked.status_code == 200, revoked.text
    with site.factory() as session:
        assert session.get(ApiToken, token_id) is None
    bearer = httpx.Headers({"Authorization": f"Bearer {made.json()['token']}"})
    assert site.http.get("/api/v2/files/x", headers=bearer).status_code == 401
