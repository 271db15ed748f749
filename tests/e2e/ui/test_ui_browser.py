"""The dashboard in a real browser (Debian's Chromium, driven by Playwright) on live sites.

Two live sites, alpha pushing to beta through a proxy that damages the first batch:
with one attempt allowed, the file's transfer FAILS (beta refuses the bad bytes). An
administrator sees it on the overview, follows the problem to the transfers page and
clicks Retry while beta is down; once beta is started again the page, refreshing
itself, shows the transfer COMPLETED. A read-only user sees the same pages without a
button, and a POST the page's script sends without the CSRF token is refused.

Screenshots go to test-artifacts/ui/; with LIBRARIAN_UPDATE_SCREENSHOT=1 the overview
is also saved as docs/dashboard-overview.png (the README's picture).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.e2e.conftest import LiveServer
from tests.e2e.proxy import FaultyProxy, proxy_to
from tests.e2e.sites import link, outgoing, site_env, wait_for

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[3]
ARTIFACTS = ROOT / "test-artifacts" / "ui"
README_PICTURE = ROOT / "docs" / "dashboard-overview.png"
NAME = "ui/one.dat"
QUICK = {
    "LIBRARIAN_SERVER_REPLICATION__MAX_ATTEMPTS": "1",  # a refused copy fails at once
    "LIBRARIAN_SERVER_REPLICATION__PEER_BACKOFF_SECONDS": "0.5",
    "LIBRARIAN_SERVER_REPLICATION__PEER_BACKOFF_MAX_SECONDS": "1",
    "LIBRARIAN_SERVER_BACKGROUND__TALLY__EVERY_SECONDS": "0.5",
}


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        if os.environ.get("LIBRARIAN_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{CHROMIUM} is missing and LIBRARIAN_REQUIRE_BROWSER=1")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield browser
        finally:
            browser.close()


class Pair:
    def __init__(self, alpha: LiveServer, beta: LiveServer, proxy: FaultyProxy) -> None:
        self.alpha, self.beta, self.proxy = alpha, beta, proxy


@pytest.fixture(scope="module")
def pair(
    start_server: Callable[..., LiveServer],
    database_url: str | None,
    new_database: Callable[[], str | None],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Pair]:
    """alpha pushes to beta; the first batch is damaged on the way, so its file FAILS."""
    alpha = start_server(database_url, env=site_env("ui-alpha", **QUICK))
    beta = start_server(new_database(), env=site_env("ui-beta"))
    data = tmp_path_factory.mktemp("ui-data") / "one.dat"
    data.write_bytes(os.urandom(4000))
    with proxy_to(beta.port, corrupt=1) as proxy:
        link(alpha, beta, "--managers", "http", url=proxy.url)
        assert alpha.cli("upload", str(data), NAME).returncode == 0
        wait_for(
            lambda: [t for t in outgoing(alpha) if t["status"] == "FAILED"],
            what="the damaged transfer to fail",
        )
        yield Pair(alpha, beta, proxy)


def _shot(page: Page, name: str, backend: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}-{backend}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def _log_in(browser: Browser, server: LiveServer, user: str) -> Page:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(server.url + "/ui/transfers")
    expect(page).to_have_url(re.compile(r"/ui/login\?next=/ui/transfers$"))
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", server.password_file(user).read_text().strip())
    page.click("button[type=submit]")
    expect(page).to_have_url(server.url + "/ui/transfers")
    return page


def _post_from_page(page: Page, path: str, *, with_token: bool) -> Any:
    """The status of a POST the page's own script context sends, with or without the token."""
    return page.evaluate(
        """([path, withToken]) => {
            const headers = {"Accept": "application/json"};
            if (withToken) {
                headers["X-CSRF-Token"] =
                    document.querySelector('meta[name="csrf-token"]').content;
            }
            return fetch(path, {method: "POST", headers, credentials: "same-origin"})
                .then(r => r.status);
        }""",
        [path, with_token],
    )


def test_a_failed_transfer_is_seen_retried_and_completes(chromium: Browser, pair: Pair) -> None:
    alpha, beta = pair.alpha, pair.beta
    backend = alpha.backend
    failed = next(t for t in outgoing(alpha) if t["name"] == NAME and t["status"] == "FAILED")
    beta.stop()  # the retry has to wait for beta, and the page has to show it arrive

    page = _log_in(chromium, alpha, "admin")
    page.click("header a.brand")
    expect(page.locator("#total-files")).to_have_text("1", timeout=30_000)  # after a tally
    problem = page.locator("#problems a", has_text="Failed transfers")
    expect(problem.locator(".count")).to_have_text("1")
    shot = _shot(page, "overview", backend)
    if os.environ.get("LIBRARIAN_UPDATE_SCREENSHOT") == "1" and backend == "sqlite":
        README_PICTURE.parent.mkdir(parents=True, exist_ok=True)
        README_PICTURE.write_bytes(shot.read_bytes())

    problem.click()
    expect(page).to_have_url(re.compile(r"/ui/transfers\?state=FAILED$"))
    row = page.locator(f'tr[data-transfer="{failed["id"]}"]')
    expect(row).to_contain_text("checksum mismatch")
    _shot(page, "transfers-failed", backend)
    row.get_by_role("button", name="Retry").click()
    expect(page.locator("#flash")).to_contain_text(f"Transfer {failed['id']} is INITIATED")
    expect(row).to_have_count(0)  # the refreshed list of failures no longer holds it

    page.goto(alpha.url + "/ui/transfers?" + f"peer={beta.site}")
    row = page.locator(f'tr[data-transfer="{failed["id"]}"]')
    expect(row).not_to_have_attribute("data-state", "FAILED")
    beta.start()
    # No reload from here on: the page refreshes itself until the copy is confirmed.
    expect(row).to_have_attribute("data-state", "COMPLETED", timeout=120_000)
    _shot(page, "transfers-completed", backend)
    assert {t["status"] for t in outgoing(alpha) if t["name"] == NAME} == {"COMPLETED"}

    # The page's script context, without the token: refused; with it: done.
    assert _post_from_page(page, "/ui/tasks/tally/run", with_token=False) == 403
    assert _post_from_page(page, "/ui/tasks/tally/run", with_token=True) == 200
    page.context.close()


def test_a_reader_sees_no_buttons_and_cannot_post(chromium: Browser, pair: Pair) -> None:
    alpha = pair.alpha
    admin = _log_in(chromium, alpha, "admin")
    admin.goto(alpha.url + "/ui/tasks")
    expect(admin.get_by_role("button", name="Run now").first).to_be_visible()
    admin.context.close()

    page = _log_in(chromium, alpha, "reader")
    expect(page.locator("#transfers tbody tr").first).to_be_visible()
    expect(page.locator("form.js-action")).to_have_count(0)
    page.goto(alpha.url + "/ui/tasks")
    expect(page.locator('tr[data-task="send_clone"]')).to_be_visible()
    expect(page.get_by_role("button", name="Run now")).to_have_count(0)
    _shot(page, "tasks-reader", alpha.backend)
    assert _post_from_page(page, "/ui/tasks/tally/run", with_token=False) == 403
    assert _post_from_page(page, "/ui/tasks/tally/run", with_token=True) == 403  # not an admin
    page.click("text=Log out")
    expect(page).to_have_url(alpha.url + "/ui/login")
    page.goto(alpha.url + "/ui/tasks")
    expect(page).to_have_url(re.compile(r"/ui/login\?next=/ui/tasks$"))
    page.context.close()
