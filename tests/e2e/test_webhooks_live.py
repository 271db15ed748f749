"""Webhooks from a live server that is SIGKILLed mid-delivery and between deliveries.

The receiver is real (a loopback HTTP server in the test), the server a real
``librarian-server run`` with its background tasks every half second. Every committed
file's event must arrive at least once, signed, in seq order; a batch cut off by the kill
comes again under the same delivery id, so deduplicating by it leaves each event once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from librarian_server.transfer.notify import verify_signature
from tests.e2e.conftest import LiveServer
from tests.integration.test_webhooks import HookReceiver

pytestmark = pytest.mark.e2e

FAST = {
    "LIBRARIAN_SERVER_BACKGROUND__DELIVER_WEBHOOKS__EVERY_SECONDS": "0.5",
    "LIBRARIAN_SERVER_BACKGROUND__DELIVER_WEBHOOKS__BATCH_SIZE": "4",
    # A POST's lease is 3 timeouts + 5 s: what a killed worker's batch waits to go again.
    "LIBRARIAN_SERVER_WEBHOOKS__TIMEOUT_SECONDS": "3",
    "LIBRARIAN_SERVER_WEBHOOKS__BACKOFF_SECONDS": "0.2",
    "LIBRARIAN_SERVER_WEBHOOKS__BACKOFF_MAX_SECONDS": "1",
}


@pytest.fixture(scope="module")
def server(start_server: Callable[..., LiveServer], database_url: str | None) -> LiveServer:
    return start_server(database_url, env=FAST, users={"writer": "read-append"})


@pytest.fixture
def receiver() -> Iterator[HookReceiver]:
    r = HookReceiver().start()
    yield r
    r.stop()


def wait_for(condition: Callable[[], object], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def upload(server: LiveServer, tmp_path: Path, prefix: str, n: int) -> list[str]:
    src = tmp_path / prefix
    src.mkdir()
    for i in range(n):
        (src / f"{i}.dat").write_bytes(f"{prefix} {i}".encode())
    done = server.cli("upload", str(src), f"live/{prefix}/")
    assert done.returncode == 0, done
    return [f"live/{prefix}/{i}.dat" for i in range(n)]


def received_names(receiver: HookReceiver) -> list[str]:
    return [e["subject"] for e in receiver.unique_events()]


def test_every_event_arrives_in_order_across_sigkills(
    server: LiveServer, receiver: HookReceiver, tmp_path: Path
) -> None:
    with server.http("admin") as http:
        made = http.post(
            "/api/v2/webhooks",
            json={"name": "live", "url": receiver.url(), "kinds": ["file.committed"]},
        )
        assert made.status_code == 201, made.text
    secret = made.json()["secret"]
    names = upload(server, tmp_path, "calm", 6)
    wait_for(lambda: received_names(receiver) == names, "the first files' events")

    # A POST under way when the server dies: the receiver has the batch, the cursor
    # never moved. After the restart (and the dead worker's lease) it comes again.
    # The receiver holds the POST unanswered until the server is dead, however slow the
    # machine: a timed delay could run out first, and the batch would be delivered.
    release = receiver.hold = threading.Event()
    before = receiver.arrived
    names += upload(server, tmp_path, "cut", 5)
    wait_for(lambda: receiver.arrived > before, "a POST in flight")
    server.kill()
    receiver.hold = None
    release.set()
    wait_for(lambda: len(receiver.posts) > before, "the cut-off POST to be recorded")
    cut = receiver.posts[before].delivery
    server.restart()
    names += upload(server, tmp_path, "after", 3)
    wait_for(lambda: received_names(receiver) == names, "every event after the restart", 90)
    assert [p.delivery for p in receiver.posts].count(cut) >= 2, "the cut batch was not resent"

    # Killed between deliveries, with events committed and not yet posted.
    names += upload(server, tmp_path, "between", 5)
    wait_for(lambda: len(received_names(receiver)) > len(names) - 5, "a delivery")
    server.kill()
    server.restart()
    wait_for(lambda: received_names(receiver) == names, "every event at the end", 90)

    seqs = [e["seq"] for e in receiver.unique_events()]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs) == len(names)
    by_id: dict[str, str] = {}
    for post in receiver.posts:
        assert verify_signature(secret, post.body, post.headers["x-librarian-signature"])
        first = by_id.setdefault(post.delivery, post.body)
        assert first == post.body, "one delivery id, two different batches"

    # The receiver records a POST before it answers, and the server moves the cursor
    # after the answer: wait for that last step.
    def settled() -> dict[str, int]:
        with server.http("admin") as http:
            state: dict[str, int] = http.get("/api/v2/webhooks/live").json()
        return state

    wait_for(lambda: settled()["backlog"] == 0, "the last answer to move the cursor")
    assert settled()["delivered_events"] >= len(names)
    assert "Traceback" not in server.log_text()
