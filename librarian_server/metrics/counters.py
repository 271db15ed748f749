"""The counters and histograms each process keeps, and the small calls that move them.

Services, the background runner and the HTTP middleware call the functions here; none
of them may fail what it counts: an error while counting is logged and swallowed.
The metric objects are made on first use (after ``registry.configure``, so that they
write to the site's multiprocess directory) and made again if that directory changes.
Label values are bounded: route templates, methods, status codes, peer, store and task
names, and how a file came in, never a file name.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from prometheus_client import Counter, Histogram
from sqlalchemy import event
from sqlalchemy.orm import Session

from librarian_server.metrics import registry

log = logging.getLogger(__name__)

PREFIX = "librarian_"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
TASK_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
OUTCOMES = ("sent", "confirmed", "failed")


class Families:
    """One set of metric objects; never registered globally (a scrape builds its own
    registry over the multiprocess files)."""

    def __init__(self) -> None:
        def counter(name: str, doc: str, labels: tuple[str, ...]) -> Counter:
            return Counter(PREFIX + name, doc, labels, registry=None)

        self.http_requests = counter(
            "http_requests", "HTTP requests answered.", ("route", "method", "status")
        )
        self.http_duration = Histogram(
            PREFIX + "http_request_duration_seconds",
            "Time from a request's arrival to the end of its answer.",
            ("route", "method"),
            buckets=LATENCY_BUCKETS,
            registry=None,
        )
        self.http_received = counter(
            "http_request_body_bytes", "Request body bytes received.", ("route", "method")
        )
        self.http_sent = counter(
            "http_response_body_bytes", "Response body bytes sent.", ("route", "method")
        )
        self.files_committed = counter(
            "files_committed", "New files committed to the catalogue, by how they came.", ("via",)
        )
        self.bytes_committed = counter(
            "committed_bytes", "Bytes of the new files committed, by how they came.", ("via",)
        )
        self.transfers = counter(
            "transfers",
            "Files sent to peers (bytes handed over), confirmed by them, or failed for good.",
            ("peer", "outcome"),
        )
        self.task_runs = counter("task_runs", "Background task runs.", ("task",))
        self.task_failures = counter(
            "task_failures", "Background task runs that raised an error.", ("task",)
        )
        self.task_duration = Histogram(
            PREFIX + "task_duration_seconds",
            "Duration of background task runs.",
            ("task",),
            buckets=TASK_BUCKETS,
            registry=None,
        )


_lock = threading.Lock()
_built: tuple[int, Families] | None = None


def families() -> Families:
    global _built
    current = _built
    generation = registry.generation()
    if current is not None and current[0] == generation:
        return current[1]
    with _lock:
        if _built is None or _built[0] != generation:
            registry.prepare()
            _built = (generation, Families())
        return _built[1]


def _safely(what: str, action: Callable[[Families], Any]) -> None:
    try:
        action(families())
    except Exception:
        log.exception("could not count %s", what)


def http_request(
    route: str, method: str, status: int, seconds: float, received: int, sent: int
) -> None:
    def count(f: Families) -> None:
        f.http_requests.labels(route, method, str(status)).inc()
        f.http_duration.labels(route, method).observe(seconds)
        if received:
            f.http_received.labels(route, method).inc(received)
        if sent:
            f.http_sent.labels(route, method).inc(sent)

    _safely("an HTTP request", count)


def files_committed(caller: str, sizes: list[int]) -> None:
    """``caller`` is the commit's caller (``upload.commit``, ``clone.complete``...); its
    first part (upload, clone, sneakernet) is the label."""
    if not sizes:
        return
    via = caller.split(".", 1)[0]

    def count(f: Families) -> None:
        f.files_committed.labels(via).inc(len(sizes))
        f.bytes_committed.labels(via).inc(sum(sizes))

    _safely("committed files", count)


def transfers(peer: str, outcome: str, n: int) -> None:
    if n <= 0:
        return
    _safely("transfers", lambda f: f.transfers.labels(peer, outcome).inc(n))


def transfers_by_peer(outcome: str, peers: list[str]) -> None:
    """One transfer per entry of ``peers`` (a destination per transfer)."""
    tally: dict[str, int] = {}
    for peer in peers:
        tally[peer] = tally.get(peer, 0) + 1
    for peer, n in tally.items():
        transfers(peer, outcome, n)


def task_run(task: str, seconds: float, *, failed: bool) -> None:
    def count(f: Families) -> None:
        f.task_runs.labels(task).inc()
        if failed:
            f.task_failures.labels(task).inc()
        f.task_duration.labels(task).observe(seconds)

    _safely("a task run", count)


_PENDING = "librarian.metrics.pending"


def after_commit(session: Session, action: Callable[[], None]) -> None:
    """Count when (and only if) the session's outermost transaction commits: a rolled-back
    change counts nothing (a savepoint's own rollback is not told apart: it is rare on the
    paths that count, and it errs towards counting)."""
    pending: list[Callable[[], None]] | None = session.info.get(_PENDING)
    if pending is None:
        pending = session.info[_PENDING] = []
        event.listen(session, "after_commit", _run_pending)
        event.listen(session, "after_rollback", _drop_pending)
    pending.append(action)


def _run_pending(session: Session) -> None:
    if session.get_nested_transaction() is not None:  # a savepoint released: not yet
        return
    pending: list[Callable[[], None]] = session.info.get(_PENDING, [])
    actions, pending[:] = list(pending), []
    for action in actions:
        try:
            action()
        except Exception:
            log.exception("could not count after a commit")


def _drop_pending(session: Session) -> None:
    if session.get_nested_transaction() is None:  # the whole transaction, not a savepoint
        session.info.get(_PENDING, []).clear()
