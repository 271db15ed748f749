"""Webhooks: the event log posted to real HTTP receivers, signed, in order, at least once."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import select

from librarian_server.orm import WebhookSubscription
from librarian_server.services.core import events, webhook_delivery
from librarian_server.services.core.credentials import CredentialBox
from librarian_server.transfer.notify import verify_signature
from tests.integration.conftest import PASSWORD, Site
from tests.integration.helpers import upload

ADMIN = ("admin", PASSWORD)
FAST = {"backoff_seconds": 1.0, "backoff_max_seconds": 1.5, "timeout_seconds": 5}


@dataclass
class Post:
    path: str
    headers: dict[str, str]
    body: str

    @property
    def delivery(self) -> str:
        return self.headers["x-librarian-delivery"]

    def json(self) -> Any:
        return json.loads(self.body)

    def seqs(self) -> list[int]:
        return [e["seq"] for e in self.json()["events"]]


@dataclass
class HookReceiver:
    """A real HTTP server on loopback that answers ``statuses`` in turn (then ``status``),
    after ``delay`` seconds (or, while ``hold`` is set, once it is released), and records
    every POST; it can stop and start on its port."""

    status: int = 200
    statuses: list[int] = field(default_factory=list)
    delay: float = 0.0
    hold: threading.Event | None = None
    posts: list[Post] = field(default_factory=list)
    arrived: int = 0  # POSTs whose body was read, answered or not yet
    port: int = 0
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> HookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0"))).decode()
                with receiver._lock:
                    receiver.arrived += 1
                time.sleep(receiver.delay)
                held = receiver.hold
                if held is not None:
                    held.wait(120)
                with receiver._lock:
                    status = receiver.statuses.pop(0) if receiver.statuses else receiver.status
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    receiver.posts.append(Post(self.path, headers, body))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def unique_events(self) -> list[dict[str, Any]]:
        """Every event once, deduplicated by delivery id, as a receiver should."""
        seen: set[str] = set()
        out: list[dict[str, Any]] = []
        for post in self.posts:
            if post.delivery not in seen:
                seen.add(post.delivery)
                out.extend(post.json()["events"])
        return out


@pytest.fixture
def receiver() -> Iterator[HookReceiver]:
    r = HookReceiver().start()
    yield r
    r.stop()


@pytest.fixture
def site(make_site: Callable[..., Site]) -> Site:
    return make_site(webhooks=FAST)


def deliver(
    site: Site, *, limit: int = 100, out_of_time: Callable[[], bool] = lambda: False
) -> dict[str, int]:
    """One round of the deliver_webhooks task, as a server runs it."""
    return webhook_delivery.deliver(
        site.factory,
        CredentialBox.for_settings(site.settings),
        site.settings.webhooks,
        limit=limit,
        out_of_time=out_of_time,
    )


def add_events(site: Site, kind: str, n: int, prefix: str = "s") -> None:
    with site.factory.begin() as session:
        for i in range(n):
            events.record(session, kind, actor="test", subject=f"{prefix}{i}", detail={"i": i})


def add_hook(site: Site, name: str, url: str, **body: Any) -> dict[str, Any]:
    r = site.http.post("/api/v2/webhooks", json={"name": name, "url": url, **body}, auth=ADMIN)
    assert r.status_code == 201, r.text
    return dict(r.json())


def hook(site: Site, name: str) -> dict[str, Any]:
    r = site.http.get(f"/api/v2/webhooks/{name}", auth=ADMIN)
    assert r.status_code == 200, r.text
    return dict(r.json())


def when(text: str) -> datetime:
    return datetime.fromisoformat(text)


def until_due(site: Site, name: str) -> None:
    """Sleep until the subscription's failed batch may be tried again."""
    due = when(hook(site, name)["next_attempt_at"])
    time.sleep(max((due - datetime.now(UTC)).total_seconds(), 0) + 0.02)


def test_events_are_delivered_signed_in_order_and_once(site: Site, receiver: HookReceiver) -> None:
    made = add_hook(site, "ingest", receiver.url())
    secret = made["secret"]
    assert isinstance(secret, str) and len(secret) >= 32
    upload(site.http, site.auth(), "obs/a.fits", b"pixels")  # a real file.committed
    add_events(site, "damage.found", 3)

    assert site.http.post("/api/v2/tasks/deliver_webhooks/run", auth=ADMIN).status_code == 200
    assert len(receiver.posts) == 1
    post = receiver.posts[0]
    assert post.path == "/hook"
    assert verify_signature(secret, post.body, post.headers["x-librarian-signature"])
    assert not verify_signature(
        "another secret of length", post.body, post.headers["x-librarian-signature"]
    )
    body = post.json()
    assert body["subscription"] == "ingest" and body["test"] is False
    kinds = [e["kind"] for e in body["events"]]
    assert kinds == ["file.committed", "damage.found", "damage.found", "damage.found"]
    assert body["events"][0]["subject"] == "obs/a.fits"
    seqs = post.seqs()
    assert seqs == sorted(seqs) and len(set(seqs)) == 4
    assert post.delivery == f"ingest:{seqs[0]}-{seqs[-1]}"
    assert "admin.webhook_created" not in kinds  # admin.* only when asked for

    assert deliver(site)["delivered"] == 0  # nothing new: no POST
    assert len(receiver.posts) == 1
    state = hook(site, "ingest")
    assert state["cursor"] >= seqs[-1] and state["backlog"] == 0
    assert state["delivered_events"] == 4 and state["last_status"] == "delivered"
    assert state["attempts"] == 0 and state["next_attempt_at"] is None

    add_events(site, "copy.confirmed", 2)
    assert deliver(site) == {"delivered": 1, "failed": 0, "events": 2, "skipped": 0}
    assert receiver.posts[1].seqs()[0] > seqs[-1]


def test_batches_are_cut_at_the_batch_size(site: Site, receiver: HookReceiver) -> None:
    add_hook(site, "small", receiver.url())
    add_events(site, "file.committed", 7)
    assert deliver(site, limit=3)["delivered"] == 3
    assert [len(p.seqs()) for p in receiver.posts] == [3, 3, 1]
    flat = [s for p in receiver.posts for s in p.seqs()]
    assert flat == sorted(flat) and len(set(flat)) == 7


def test_only_the_kinds_asked_for_are_posted(site: Site, receiver: HookReceiver) -> None:
    add_hook(site, "commits", receiver.url("/commits"), kinds=["file.committed"])
    add_hook(site, "audit", receiver.url("/audit"), kinds=["admin.*"])
    add_hook(site, "damage", receiver.url("/damage"), kinds=["damage."])
    add_events(site, "file.committed", 2)
    add_events(site, "copy.confirmed", 2)
    with site.factory.begin() as session:
        events.record(session, "admin.user_created", actor="admin", subject="eve")
    assert deliver(site)["skipped"] >= 1

    by_path: dict[str, list[str]] = {}
    for post in receiver.posts:
        by_path.setdefault(post.path, []).extend(e["kind"] for e in post.json()["events"])
    assert by_path["/commits"] == ["file.committed", "file.committed"]
    # The audit receiver sees the later subscriptions' creation, and the admin event.
    assert set(by_path["/audit"]) == {"admin.webhook_created", "admin.user_created"}
    assert "/damage" not in by_path  # nothing matched: no POST at all
    with site.factory() as session:
        last = events.last_seq(session)
    damage = hook(site, "damage")
    assert damage["cursor"] == last and damage["backlog"] == 0 and damage["delivered_events"] == 0


def test_a_failing_receiver_gets_the_same_batch_again_after_a_backoff(
    site: Site, receiver: HookReceiver
) -> None:
    add_hook(site, "flaky", receiver.url())
    add_events(site, "file.committed", 3, prefix="a")
    receiver.statuses = [500, 503]

    assert deliver(site) == {"delivered": 0, "failed": 1, "events": 0, "skipped": 0}
    first = hook(site, "flaky")
    assert first["attempts"] == 1 and first["last_status"] == "failed"
    assert first["last_error"] == "answered 500" and first["backlog"] == 3
    waited = when(first["next_attempt_at"]) - when(first["last_attempt_time"])
    assert 0.99 <= waited.total_seconds() <= 1.01
    assert first["pending_since"] is not None

    add_events(site, "file.committed", 2, prefix="b")  # after the failed batch
    assert deliver(site)["failed"] == 0 and len(receiver.posts) == 1  # not yet due

    until_due(site, "flaky")
    assert deliver(site)["failed"] == 1
    second = hook(site, "flaky")
    assert second["attempts"] == 2 and second["pending_since"] == first["pending_since"]
    waited = when(second["next_attempt_at"]) - when(second["last_attempt_time"])
    assert 1.49 <= waited.total_seconds() <= 1.51  # doubled, up to the cap

    until_due(site, "flaky")
    assert deliver(site) == {"delivered": 2, "failed": 0, "events": 5, "skipped": 0}
    ids = [p.delivery for p in receiver.posts]
    assert ids[0] == ids[1] == ids[2] != ids[3]
    assert receiver.posts[0].body != "" and receiver.posts[0].seqs() == receiver.posts[2].seqs()
    assert [e["subject"] for e in receiver.unique_events()] == ["a0", "a1", "a2", "b0", "b1"]
    done = hook(site, "flaky")
    assert done["attempts"] == 0 and done["pending_since"] is None and done["backlog"] == 0
    assert done["failed_attempts"] == 2 and done["delivered_events"] == 5


def test_a_receiver_that_is_down_loses_nothing(site: Site, receiver: HookReceiver) -> None:
    add_hook(site, "down", receiver.url())
    port = receiver.port
    receiver.stop()
    add_events(site, "file.committed", 4)
    for attempt in range(1, 4):
        assert deliver(site)["failed"] == 1
        state = hook(site, "down")
        assert state["attempts"] == attempt and state["backlog"] == 4
        assert "ConnectError" in state["last_error"]
        until_due(site, "down")
    add_events(site, "file.committed", 1, prefix="late")

    receiver.port = port
    receiver.start()
    assert deliver(site)["events"] == 5
    assert [e["subject"] for e in receiver.unique_events()] == ["s0", "s1", "s2", "s3", "late0"]
    assert hook(site, "down")["backlog"] == 0


def test_two_runners_at_once_never_post_the_same_batch_twice(
    site: Site, receiver: HookReceiver
) -> None:
    receiver.delay = 0.05
    for name in ("one", "two", "three"):
        add_hook(site, name, receiver.url(f"/{name}"))
    errors: list[BaseException] = []
    stop = threading.Event()

    def runner() -> None:
        try:
            while not stop.is_set():
                deliver(site, limit=4, out_of_time=stop.is_set)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=runner, daemon=True) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        for i in range(6):
            add_events(site, "file.committed", 5, prefix=f"r{i}-")
            time.sleep(0.1)
        deadline = time.monotonic() + 30
        while sum(len(p.seqs()) for p in receiver.posts) < 90:
            assert time.monotonic() < deadline, "not everything arrived"
            time.sleep(0.05)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert not errors
    ids = [p.delivery for p in receiver.posts]
    assert len(ids) == len(set(ids)), "a batch was posted twice"
    for name in ("one", "two", "three"):
        seqs = [s for p in receiver.posts if p.path == f"/{name}" for s in p.seqs()]
        assert len(seqs) == 30 and seqs == sorted(seqs)


def test_the_secret_and_the_urls_credentials_are_never_shown_or_logged(
    site: Site, receiver: HookReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    given = "a secret the operator chose"
    url = f"http://hookuser:hookpass@127.0.0.1:{receiver.port}/in?token=querytoken"
    made = add_hook(site, "quiet", url, secret=given)
    assert made["secret"] is None  # given, so not echoed
    assert made["url"] == f"http://127.0.0.1:{receiver.port}/in"
    generated = add_hook(site, "other", receiver.url())["secret"]

    add_events(site, "file.committed", 2)
    receiver.statuses = [500]
    deliver(site)
    until_due(site, "quiet")
    deliver(site)
    post = next(p for p in receiver.posts if p.path.startswith("/in"))
    assert post.path == "/in?token=querytoken"  # the receiver does get its own query
    assert post.headers["authorization"].startswith("Basic ")
    assert verify_signature(given, post.body, post.headers["x-librarian-signature"])

    receiver.stop()  # a connection error's text too
    add_events(site, "file.committed", 1)
    deliver(site)
    answers = [
        site.http.get("/api/v2/webhooks", auth=ADMIN),
        site.http.get("/api/v2/webhooks/quiet", auth=ADMIN),
        site.http.patch("/api/v2/webhooks/quiet", json={"enabled": False}, auth=ADMIN),
        site.http.post("/api/v2/webhooks/quiet/test", auth=ADMIN),
        site.http.delete("/api/v2/webhooks/quiet", auth=ADMIN),
    ]
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
    assert answers[3].json()["delivered"] is False
    with site.factory() as session:
        sealed = session.scalars(select(WebhookSubscription.sealed_secret)).all()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "webhook quiet" in logged
    for text in [*(a.text for a in answers), logged, *sealed]:
        for hidden in (given, generated, "hookpass", "hookuser", "querytoken"):
            assert hidden not in text


def test_only_admins_manage_webhooks(site: Site, receiver: HookReceiver) -> None:
    add_hook(site, "mine", receiver.url())
    for user in ("writer", "reader"):
        auth = site.auth(user)
        calls = [
            site.http.post(
                "/api/v2/webhooks", json={"name": "x", "url": receiver.url()}, auth=auth
            ),
            site.http.get("/api/v2/webhooks", auth=auth),
            site.http.get("/api/v2/webhooks/mine", auth=auth),
            site.http.patch("/api/v2/webhooks/mine", json={"enabled": False}, auth=auth),
            site.http.delete("/api/v2/webhooks/mine", auth=auth),
            site.http.post("/api/v2/webhooks/mine/test", auth=auth),
        ]
        assert [c.status_code for c in calls] == [403] * 6, user
        assert {c.json()["code"] for c in calls} == {"permission_denied"}
    assert site.http.get("/api/v2/webhooks").status_code == 401
    assert receiver.posts == []


def test_requests_are_validated_and_changes_audited(site: Site, receiver: HookReceiver) -> None:
    for bad in (
        {"name": "x", "url": "ftp://example.org/in"},
        {"name": "x", "url": "http:///nohost"},
        {"name": "x y", "url": receiver.url()},
        {"name": "x", "url": receiver.url(), "kinds": ["Not A Kind"]},
        {"name": "x", "url": receiver.url(), "secret": "short"},
    ):
        r = site.http.post("/api/v2/webhooks", json=bad, auth=ADMIN)
        assert r.status_code == 400 and r.json()["code"] == "validation_error", bad
    add_hook(site, "audited", receiver.url(), kinds=["file.committed"])
    again = site.http.post(
        "/api/v2/webhooks", json={"name": "audited", "url": receiver.url()}, auth=ADMIN
    )
    assert again.status_code == 409 and again.json()["code"] == "conflict"
    changed = site.http.patch(
        "/api/v2/webhooks/audited", json={"kinds": ["damage.*"], "enabled": False}, auth=ADMIN
    )
    assert changed.json()["kinds"] == ["damage.*"] and changed.json()["enabled"] is False
    add_events(site, "damage.found", 2)
    deliver(site)
    assert receiver.posts == []  # disabled: nothing sent, the backlog kept
    assert hook(site, "audited")["backlog"] == 2
    site.http.patch("/api/v2/webhooks/audited", json={"enabled": True}, auth=ADMIN)
    deliver(site)
    assert [e["kind"] for e in receiver.unique_events()] == ["damage.found"] * 2

    tested = site.http.post("/api/v2/webhooks/audited/test", auth=ADMIN).json()
    assert tested["delivered"] is True and tested["delivery"].startswith("audited:test-")
    assert receiver.posts[-1].json() == {"subscription": "audited", "events": [], "test": True}
    assert site.http.delete("/api/v2/webhooks/audited", auth=ADMIN).status_code == 200
    assert site.http.get("/api/v2/webhooks/audited", auth=ADMIN).status_code == 404
    with site.factory.begin() as session:
        events.sequence(session)
        audit = events.read(session, after=0, limit=100, kinds=["admin.*"])
    assert [(e.kind, e.actor, e.subject) for e in audit if "webhook" in e.kind] == [
        ("admin.webhook_created", "admin", "audited"),
        ("admin.webhook_updated", "admin", "audited"),
        ("admin.webhook_updated", "admin", "audited"),
        ("admin.webhook_deleted", "admin", "audited"),
    ]
    assert audit[0].detail == {"url_host": "127.0.0.1", "kinds": ["file.committed"]}
