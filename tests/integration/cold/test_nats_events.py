"""The JetStream stage-event consumer against a real nats-server: batching, at-least-once
acknowledgement, broker crashes and restarts, a consumer SIGKILLed mid-batch, bad input."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import nats
import pytest

from librarian_server.bus.nats import NatsEventSource, publish_events
from librarian_server.stores.tape.base import StageEvent
from tests.tape import NATS_SERVER, NatsServer, kill_group

STREAM = "TAPE_EVENTS"
PREFIX = "tape.events"

pytestmark = pytest.mark.skipif(not os.path.exists(NATS_SERVER), reason="nats-server missing")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[NatsServer]:
    srv = NatsServer(tmp_path)
    yield srv
    srv.kill()


class Collector:
    """A handle that records each batch; optionally fails or dawdles."""

    def __init__(self, fail_first: int = 0, delay: float = 0.0) -> None:
        self.lock = threading.Lock()
        self.batches: list[list[str]] = []
        self.failed: list[list[str]] = []
        self.fail_first = fail_first
        self.delay = delay

    def __call__(self, events: list[StageEvent]) -> None:
        paths = [e.path for e in events]
        if self.delay:
            time.sleep(self.delay)
        with self.lock:
            if len(self.failed) < self.fail_first:
                self.failed.append(paths)
                raise RuntimeError("database is down")
            self.batches.append(paths)

    def paths(self) -> list[str]:
        with self.lock:
            return [p for b in self.batches for p in b]

    def wait_for(self, expected: set[str], timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if expected <= set(self.paths()):
                return
            time.sleep(0.02)
        missing = expected - set(self.paths())
        raise AssertionError(f"{len(missing)} events never arrived, e.g. {sorted(missing)[:3]}")


@contextlib.contextmanager
def running(source: NatsEventSource, handle: Callable[[list[StageEvent]], None]) -> Iterator[None]:
    """Run the source in a thread; on exit stop it and check it stopped promptly."""
    stop = threading.Event()
    thread = threading.Thread(target=source.run, args=(handle, stop), daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        began = time.monotonic()
        thread.join(timeout=10)
        assert not thread.is_alive(), "the source did not stop"
        assert time.monotonic() - began < 3.0, "the source took too long to stop"


def wait_until(cond: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def events(tag: str, n: int) -> list[StageEvent]:
    return [
        StageEvent(path=f"/tape/{tag}/{i:05d}", status="staged", size=i)
        if i % 10
        else StageEvent(path=f"/tape/{tag}/{i:05d}", status="error", error="medium error")
        for i in range(n)
    ]


def consumer_state(url: str, durable: str) -> tuple[int, int]:
    """(messages not yet delivered, delivered but not acknowledged) of the durable."""

    async def query() -> tuple[int, int]:
        nc = await nats.connect(url)
        try:
            info = await nc.jetstream().consumer_info(STREAM, durable)
            return info.num_pending or 0, info.num_ack_pending or 0
        finally:
            await nc.close()

    return asyncio.run(query())


def test_batches_delivered_once_and_not_again_to_the_next_source(server: NatsServer) -> None:
    server.start()
    sent = events("a", 1200)
    publish_events(server.url, sent)
    handle = Collector()
    source = NatsEventSource(server.url, durable="lib", batch=500, ack_wait=1.0)
    assert source.last_event_time is None
    with running(source, handle):
        handle.wait_for({e.path for e in sent})
        assert source.connected
    assert Counter(handle.paths()) == Counter(e.path for e in sent)  # each exactly once
    assert len(handle.batches) >= 3 and max(len(b) for b in handle.batches) <= 500
    assert source.last_event_time is not None
    assert consumer_state(server.url, "lib") == (0, 0)

    # The same durable again: nothing comes back (even past ack_wait), but new events do.
    again = Collector()
    with running(NatsEventSource(server.url, durable="lib", ack_wait=1.0), again):
        time.sleep(2.5)
        assert again.paths() == []
        more = events("b", 5)
        publish_events(server.url, more)
        again.wait_for({e.path for e in more})
    assert sorted(again.paths()) == sorted(e.path for e in more)


def test_a_failing_handle_gets_the_same_events_again(server: NatsServer) -> None:
    server.start()
    sent = events("f", 50)
    publish_events(server.url, sent)
    handle = Collector(fail_first=1)
    source = NatsEventSource(server.url, durable="lib", retry_delay=0.5)
    began = time.monotonic()
    with running(source, handle):
        handle.wait_for({e.path for e in sent})
    # Redelivered by the nak, not by the 30 s ack_wait running out.
    assert time.monotonic() - began < 10
    assert len(handle.failed) == 1 and set(handle.failed[0]) <= {e.path for e in sent}
    assert Counter(handle.paths()) == Counter(e.path for e in sent)
    assert consumer_state(server.url, "lib") == (0, 0)


def test_broker_killed_and_restarted_mid_stream(server: NatsServer) -> None:
    server.start()
    before = events("pre", 2000)
    publish_events(server.url, before)
    handle = Collector(delay=0.02)
    source = NatsEventSource(server.url, durable="lib", batch=100, ack_wait=2.0)
    with running(source, handle):
        wait_until(lambda: len(handle.paths()) >= 100, 10, "the first batch")
        server.kill()
        wait_until(lambda: not source.connected, 10, "the source to see the broker gone")
        time.sleep(1.0)  # reconnect attempts against nothing
        server.start()
        wait_until(lambda: source.connected, 10, "the source to reconnect")
        after = events("post", 100)
        publish_events(server.url, after)
        handle.wait_for({e.path for e in before + after}, timeout=30)
        # An ack lost with the broker (or one unconfirmed while it came back) brings its
        # batch again after ack_wait: the durable drains to nothing pending, nothing unacked.
        wait_until(
            lambda: consumer_state(server.url, "lib") == (0, 0), 30, "every event acknowledged"
        )
    # At least once: an ack in flight at the crash may bring its event again, nothing lost.
    assert set(handle.paths()) == {e.path for e in before + after}


def test_broker_down_at_start(server: NatsServer) -> None:
    handle = Collector()
    source = NatsEventSource(server.url, durable="lib")
    with running(source, handle):
        time.sleep(1.5)
        assert not source.connected
        assert handle.paths() == []
        server.start()
        wait_until(lambda: source.connected, 10, "the first connection")
        sent = events("late", 20)
        publish_events(server.url, sent)
        handle.wait_for({e.path for e in sent})
    assert Counter(handle.paths()) == Counter(e.path for e in sent)


def test_stop_while_broker_down_is_prompt(server: NatsServer) -> None:
    source = NatsEventSource(server.url, durable="lib")
    with running(source, Collector()):  # running() asserts the stop takes < 3 s
        time.sleep(0.7)
    assert not source.connected


CONSUMER_SCRIPT = textwrap.dedent(
    """
    import sys, threading, time
    from librarian_server.bus.nats import NatsEventSource

    url, out = sys.argv[1], sys.argv[2]

    def handle(events):
        with open(out, "a") as f:
            f.write("".join(e.path + "\\n" for e in events))
        time.sleep(600)  # a database that hangs: killed before it commits

    NatsEventSource(url, durable="lib", ack_wait=2.0).run(handle, threading.Event())
    """
)


def test_consumer_sigkilled_before_ack_gets_them_again(server: NatsServer, tmp_path: Path) -> None:
    server.start()
    sent = events("k", 30)
    publish_events(server.url, sent)
    seen = tmp_path / "seen.txt"
    proc = subprocess.Popen(
        [sys.executable, "-c", CONSUMER_SCRIPT, server.url, str(seen)],
        start_new_session=True,
    )
    try:
        wait_until(lambda: seen.exists() and len(seen.read_text().split()) == 30, 20, "the batch")
    finally:
        kill_group(proc)
    assert sorted(seen.read_text().split()) == sorted(e.path for e in sent)

    handle = Collector()
    with running(NatsEventSource(server.url, durable="lib", ack_wait=2.0), handle):
        handle.wait_for({e.path for e in sent})
    assert Counter(handle.paths()) == Counter(e.path for e in sent)
    assert consumer_state(server.url, "lib") == (0, 0)


def test_malformed_message_is_skipped(server: NatsServer) -> None:
    server.start()
    first, last = events("m1", 3), events("m2", 3)
    publish_events(server.url, first)

    async def publish_garbage() -> None:
        nc = await nats.connect(server.url)
        js = nc.jetstream()
        for payload in (b"not json", b'{"path": 1, "status": "staged"}', b'{"path": "/x"}'):
            await js.publish(f"{PREFIX}.staged", payload, stream=STREAM)
        await js.publish(f"{PREFIX}.error", b'{"path": "/y", "status": "lost"}', stream=STREAM)
        await nc.close()

    asyncio.run(publish_garbage())
    publish_events(server.url, last)
    handle = Collector()
    with running(NatsEventSource(server.url, durable="lib", ack_wait=1.0), handle):
        handle.wait_for({e.path for e in first + last})
        time.sleep(2.0)  # past ack_wait: a garbage message that was not terminated comes back
        assert consumer_state(server.url, "lib") == (0, 0)
    assert Counter(handle.paths()) == Counter(e.path for e in first + last)


def test_ten_thousand_events(server: NatsServer) -> None:
    server.start()
    sent = events("bulk", 10_000)
    began = time.monotonic()
    publish_events(server.url, sent)
    published = time.monotonic() - began
    handle = Collector()
    source = NatsEventSource(server.url, durable="lib", batch=500)
    began = time.monotonic()
    with running(source, handle):
        handle.wait_for({e.path for e in sent}, timeout=60)
        consumed = time.monotonic() - began
    print(
        f"\npublished 10000 events in {published:.2f} s ({10_000 / published:.0f}/s); "
        f"consumed and acked in {consumed:.2f} s ({10_000 / consumed:.0f}/s)"
    )
    assert Counter(handle.paths()) == Counter(e.path for e in sent)
    assert consumer_state(server.url, "lib") == (0, 0)
