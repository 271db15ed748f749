"""The dashboard's webhooks page: where each subscription stands, and its actions."""

from __future__ import annotations

from tests.integration.conftest import Site
from tests.integration.test_webhooks import (
    HookReceiver,
    add_events,
    add_hook,
    deliver,
    hook,
    receiver,
    site,
)
from tests.integration.ui.test_ui_pages import login

__all__ = ["receiver", "site"]  # the fixtures, shared with the API's tests
JSON = {"Accept": "application/json"}


def test_the_page_shows_deliveries_and_failures_and_admins_act(
    site: Site, receiver: HookReceiver
) -> None:
    made = add_hook(site, "ingest", receiver.url(), kinds=["file.committed"])
    add_events(site, "file.committed", 3)
    deliver(site)
    receiver.statuses = [500]
    add_events(site, "file.committed", 2, prefix="t")
    deliver(site)
    http, csrf = login(site, "admin")
    text = http.get("/ui/webhooks").text
    assert 'data-webhook="ingest"' in text
    assert receiver.url() in text and "answered 500" in text
    assert '<td class="num">3</td>' in text  # delivered
    assert '<td class="num">2</td>' in text  # behind
    assert made["secret"] and made["secret"] not in text

    head = {**JSON, "X-CSRF-Token": csrf}
    off = http.post("/ui/webhooks/ingest/disable", headers=head)
    assert off.status_code == 200 and off.json()["ok"], off.text
    assert hook(site, "ingest")["enabled"] is False
    tested = http.post("/ui/webhooks/ingest/test", headers=head)
    assert tested.status_code == 200 and tested.json()["ok"], tested.text
    assert receiver.posts[-1].json()["test"] is True
    assert http.post("/ui/webhooks/ingest/enable", headers=head).json()["ok"]

    reader, reader_csrf = login(site, "reader")
    seen = reader.get("/ui/webhooks").text
    assert 'data-webhook="ingest"' in seen and "/disable" not in seen
    refused = reader.post("/ui/webhooks/ingest/disable", data={"csrf": reader_csrf})
    assert refused.status_code == 403 and hook(site, "ingest")["enabled"] is True
