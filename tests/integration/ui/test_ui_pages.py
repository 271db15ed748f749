"""The dashboard in process: login and its cookie, every page's data, CSRF, roles, lock-out.

Each test logs in through the real form (GET the form, POST it with its CSRF token)
with a client of its own, so that each user has their own cookie jar.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from librarian_client.models import TransferStatus
from librarian_server.orm import ApiToken, ErrorCategory, OutgoingTransfer, RemoteInstance, utcnow
from librarian_server.services.accounts.tokens import set_user_disabled
from librarian_server.services.core.error_log import record_error
from librarian_server.ui.render import human_bytes
from tests.integration.conftest import PASSWORD, Site
from tests.integration.helpers import upload

CSRF_FIELD = re.compile(r'name="csrf" value="([0-9a-f]+)"')
CSRF_META = re.compile(r'<meta name="csrf-token" content="([0-9a-f]+)">')


def browser(site: Site) -> TestClient:
    """A client with its own cookies, on the site's running app."""
    return TestClient(site.http.app, follow_redirects=False)


def login(site: Site, user: str, password: str = PASSWORD) -> tuple[TestClient, str]:
    """Log in through the form; the client and the CSRF token of its session."""
    http = browser(site)
    r = http.post("/ui/login", data=_login_form(http, user, password))
    assert r.status_code == 303, r.text
    page = http.get("/ui/")
    assert page.status_code == 200, page.text
    found = CSRF_META.search(page.text)
    assert found is not None
    return http, found.group(1)


def _login_form(http: TestClient, user: str, password: str) -> dict[str, str]:
    form = http.get("/ui/login")
    assert form.status_code == 200
    found = CSRF_FIELD.search(form.text)
    assert found is not None
    return {"csrf": found.group(1), "username": user, "password": password, "next": "/ui/"}


def _failed_transfer(site: Site, name: str, error: str = "checksum mismatch at far") -> int:
    with site.factory.begin() as session:
        row = OutgoingTransfer(
            file_name=name,
            destination="far",
            status=TransferStatus.FAILED,
            size=5000,
            checksum="md5:0",
            attempts=8,
            error=error,
            completed_time=utcnow(),
        )
        session.add(row)
        session.flush()
        return row.id


def _status(site: Site, transfer_id: int) -> TransferStatus:
    with site.factory() as session:
        row = session.get(OutgoingTransfer, transfer_id)
        assert row is not None
        return row.status


def test_login_sets_a_strict_http_only_cookie_for_a_session_token(site: Site) -> None:
    http = browser(site)
    r = http.post("/ui/login", data=_login_form(http, "admin", PASSWORD))
    assert r.status_code == 303 and r.headers["location"] == "/ui/"
    cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith("librarian_session="))
    attributes = {a.strip().split("=")[0].lower() for a in cookie.split(";")[1:]}
    assert {"httponly", "path", "max-age", "samesite"} <= attributes
    assert "samesite=strict" in cookie.lower() and "path=/ui" in cookie.lower()
    assert "secure" not in attributes  # plain http here; https requests get Secure
    with site.factory() as session:
        token = session.scalars(
            select(ApiToken).where(ApiToken.description == "dashboard session")
        ).one()  # one login, one token
        assert token.expires_at is not None
        lifetime = token.expires_at - utcnow()
    assert timedelta(hours=7.9) < lifetime <= timedelta(hours=8)
    page = http.get("/ui/")
    assert page.status_code == 200 and "Overview" in page.text
    assert page.headers["cache-control"] == "no-store"
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "<script>" not in page.text and " style=" not in page.text
    # Over https (as a TLS proxy reports it) the cookie is Secure too.
    tls = TestClient(site.http.app, base_url="https://testserver", follow_redirects=False)
    r = tls.post("/ui/login", data=_login_form(tls, "admin", PASSWORD))
    assert r.status_code == 303
    cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith("librarian_session="))
    assert "; secure" in cookie.lower()


def test_anonymous_requests_go_to_the_login_form(site: Site) -> None:
    http = browser(site)
    r = http.get("/ui/transfers?state=FAILED")
    assert r.status_code == 303
    assert r.headers["location"] == "/ui/login?next=/ui/transfers%3Fstate%3DFAILED"
    assert http.get("/ui/static/dashboard.js").status_code == 200  # no session needed
    # A stolen or made-up cookie is no session either.
    http.cookies.set("librarian_session", "not-a-token", path="/ui")
    assert http.get("/ui/").status_code == 303
    assert http.post("/ui/transfers/1/retry").status_code == 403


def test_each_page_shows_its_data(site: Site) -> None:
    data = b"d" * 5000
    upload(site.http, site.auth(), "obs/2024/a.dat", data)
    assert site.http.post("/api/v2/tasks/tally/run", auth=site.auth("admin")).status_code == 200
    failed = _failed_transfer(site, "obs/2024/a.dat")
    with site.factory.begin() as session:
        session.add(RemoteInstance(file_name="obs/2024/a.dat", site="faraway"))
    record_error(site.factory, ErrorCategory.REPLICATION, "peer far said <b>no</b>")
    http, _ = login(site, "admin")

    overview = http.get("/ui/").text
    assert '<div class="figure" id="total-files">1</div>' in overview
    assert human_bytes(5000) in overview
    assert '<span class="count">1</span> Failed transfers' in overview
    assert '<span class="count">1</span> Errors in the last 24 h' in overview
    assert 'href="/ui/transfers?state=FAILED"' in overview
    assert "<svg" in overview and "1 file(s)" in overview  # today's bar of the growth chart

    found = http.get("/ui/search", params={"prefix": "obs/20"}).text
    assert 'href="/ui/files/obs/2024/a.dat"' in found

    file_page = http.get("/ui/files/obs/2024/a.dat")
    assert file_page.status_code == 200
    assert "md5:" in file_page.text and "local" in file_page.text  # its copy here
    assert "faraway" in file_page.text  # its copy at a peer
    assert "checksum mismatch at far" in file_page.text  # its journey to another
    assert http.get("/ui/files/obs/nothing").status_code == 404

    stores = http.get("/ui/stores").text
    assert f'<td class="num used">{human_bytes(5000)}</td>' in stores
    assert 'class="usage' in stores
    assert '<td class="num">1<div class="sub">counted' in stores  # by the tally task above

    transfers = http.get("/ui/transfers", params={"state": "FAILED"}).text
    assert "checksum mismatch at far" in transfers
    assert f'action="/ui/transfers/{failed}/retry"' in transfers

    errors = http.get("/ui/errors").text
    assert "peer far said &lt;b&gt;no&lt;/b&gt;" in errors  # escaped, never markup

    tasks = http.get("/ui/tasks").text
    assert 'data-task="tally"' in tasks and 'action="/ui/tasks/tally/run"' in tasks
    for path in ("/ui/peers", "/ui/disks", "/ui/damage", "/ui/staging"):
        r = http.get(path)
        assert r.status_code == 200, (path, r.text)


def test_a_post_without_a_valid_csrf_token_is_refused_and_changes_nothing(site: Site) -> None:
    upload(site.http, site.auth(), "c/a.dat", b"a" * 10)
    failed = _failed_transfer(site, "c/a.dat")
    http, csrf = login(site, "admin")
    url = f"/ui/transfers/{failed}/retry"
    assert http.post(url).status_code == 403
    assert http.post(url, data={"csrf": "0" * 64}).status_code == 403
    other, other_csrf = login(site, "admin")  # another session's token is not this one's
    assert http.post(url, data={"csrf": other_csrf}).status_code == 403
    cross = http.post(url, data={"csrf": csrf}, headers={"Origin": "https://evil.example"})
    assert cross.status_code == 403
    assert _status(site, failed) is TransferStatus.FAILED

    done = http.post(url, headers={"X-CSRF-Token": csrf, "Accept": "application/json"})
    assert done.status_code == 200 and done.json()["ok"] is True, done.text
    assert _status(site, failed) is TransferStatus.INITIATED
    cancel = other.post(f"/ui/transfers/{failed}/cancel", data={"csrf": other_csrf})
    assert cancel.status_code == 200 and "CANCELLED" in cancel.text
    assert _status(site, failed) is TransferStatus.CANCELLED
    again = other.post(f"/ui/transfers/{failed}/cancel", data={"csrf": other_csrf})
    assert again.status_code == 409 and "already CANCELLED" in again.text  # a page says why
    ran = http.post(
        "/ui/tasks/tally/run", headers={"X-CSRF-Token": csrf, "Accept": "application/json"}
    )
    assert ran.status_code == 200 and ran.json()["message"].startswith("tally ran")


@pytest.mark.parametrize("user", ["reader", "writer"])
def test_users_who_are_not_admins_see_no_buttons_and_cannot_act(site: Site, user: str) -> None:
    upload(site.http, site.auth(), "r/a.dat", b"r" * 10)
    failed = _failed_transfer(site, "r/a.dat")
    http, csrf = login(site, user)
    transfers = http.get("/ui/transfers").text
    assert "checksum mismatch at far" in transfers  # they see the data
    assert "/retry" not in transfers and "js-action" not in transfers
    tasks = http.get("/ui/tasks").text
    assert 'data-task="tally"' in tasks and "Run now" not in tasks and "/run" not in tasks
    refused = http.post(f"/ui/transfers/{failed}/retry", data={"csrf": csrf})
    assert refused.status_code == 403 and "may look but not act" in refused.text
    assert http.post("/ui/tasks/tally/run", data={"csrf": csrf}).status_code == 403
    assert _status(site, failed) is TransferStatus.FAILED


def test_a_wrong_password_is_shown_and_repeated_ones_lock_out(
    make_site: Callable[..., Site],
) -> None:
    site = make_site(login_max_failures=3)
    http = browser(site)
    wrong = http.post("/ui/login", data=_login_form(http, "writer", "not the password"))
    assert wrong.status_code == 401 and "Unknown user or wrong password." in wrong.text
    assert "librarian_session" not in http.cookies
    for _ in range(2):
        http.post("/ui/login", data=_login_form(http, "writer", "still not it"))
    locked = http.post("/ui/login", data=_login_form(http, "writer", PASSWORD))
    assert locked.status_code == 429 and "Too many failed logins" in locked.text
    assert int(locked.headers["retry-after"]) > 0
    assert "librarian_session" not in http.cookies
    # The form itself is bound to its cookie: one made up is refused before any password.
    stale = browser(site).post(
        "/ui/login", data={"csrf": "0" * 64, "username": "admin", "password": PASSWORD}
    )
    assert stale.status_code == 403
    big = browser(site).post("/ui/login", content=b"x" * 20_000)
    assert big.status_code == 413


def test_logging_out_revokes_the_session_and_disabling_a_user_ends_theirs(site: Site) -> None:
    http, csrf = login(site, "admin")
    cookie = http.cookies["librarian_session"]
    out = http.post("/ui/logout", data={"csrf": csrf})
    assert out.status_code == 303 and out.headers["location"] == "/ui/login"
    with site.factory() as session:
        left = session.scalars(
            select(ApiToken.id).where(ApiToken.description == "dashboard session")
        ).all()
    assert left == []
    replay = browser(site)
    replay.cookies.set("librarian_session", cookie, path="/ui")
    assert replay.get("/ui/").status_code == 303  # the old cookie is worth nothing now

    writer, _ = login(site, "writer")
    assert writer.get("/ui/stores").status_code == 200
    with site.factory.begin() as session:
        set_user_disabled(session, "writer", True)
    assert writer.get("/ui/stores").status_code == 303
