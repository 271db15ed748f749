"""``GET /api/v2/events``: paging by ``next`` while events are added, the long poll, and
who may see administrators' actions."""

from __future__ import annotations

import threading
import time
from typing import Any

from librarian_server.services.core import events
from tests.integration.conftest import Site


def _add(site: Site, kind: str, subject: str, **detail: object) -> None:
    with site.factory.begin() as session:
        events.record(session, kind, actor="test", subject=subject, detail=dict(detail))


def _get(site: Site, user: str = "reader", **params: Any) -> dict[str, Any]:
    r = site.http.get("/api/v2/events", params=params, auth=site.auth(user))
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _cursor(site: Site) -> int:
    """Past everything in the log now."""
    cursor = 0
    while True:
        page = _get(site, "admin", after=cursor, limit=1000)
        if not page["events"]:
            return int(page["next"])
        cursor = page["next"]


def test_paging_by_next_sees_every_event_once_while_others_are_added(site: Site) -> None:
    per_writer, writers = 60, 2
    errors: list[BaseException] = []

    def write(who: int) -> None:
        try:
            for i in range(0, per_writer, 3):  # a few events per transaction
                with site.factory.begin() as session:
                    for j in range(i, i + 3):
                        events.record(session, "test.tick", actor="t", subject=f"w{who}-{j:03d}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    seen: list[str] = []
    seqs: list[int] = []
    cursor = 0
    while True:
        done = not any(t.is_alive() for t in threads)
        page = _get(site, after=cursor, limit=7, kinds="test.tick")
        assert page["next"] >= cursor
        seen += [e["subject"] for e in page["events"]]
        seqs += [e["seq"] for e in page["events"]]
        cursor = page["next"]
        if done and not page["events"]:
            break
    for t in threads:
        t.join()
    assert not errors
    assert len(seen) == len(set(seen)) == per_writer * writers
    assert sorted(seen) == sorted(
        f"w{w}-{j:03d}" for w in range(writers) for j in range(per_writer)
    )
    assert seqs == sorted(seqs)
    for w in range(writers):  # one writer's events in the order it wrote them
        mine = [s for s in seen if s.startswith(f"w{w}-")]
        assert mine == sorted(mine)


def test_the_long_poll_answers_as_soon_as_an_event_arrives(site: Site) -> None:
    cursor = _cursor(site)
    started = time.monotonic()
    empty = _get(site, after=cursor, wait=0.6)
    assert time.monotonic() - started >= 0.6
    assert empty == {"events": [], "next": cursor}

    timer = threading.Timer(0.5, _add, args=(site, "file.committed", "late"), kwargs={"size": 1})
    timer.start()
    try:
        started = time.monotonic()
        page = _get(site, after=cursor, wait=20)
        took = time.monotonic() - started
    finally:
        timer.join()
    assert [e["subject"] for e in page["events"]] == ["late"]
    assert 0.4 < took < 5, took
    event = page["events"][0]
    assert set(event) == {"seq", "time", "kind", "actor", "subject", "detail"}
    assert page["next"] == event["seq"] > cursor


def test_a_waiting_poll_does_not_hold_up_other_requests(site: Site) -> None:
    cursor = _cursor(site)
    result: dict[str, Any] = {}
    poll = threading.Thread(target=lambda: result.update(_get(site, after=cursor, wait=3)))
    poll.start()
    time.sleep(0.3)
    started = time.monotonic()
    assert site.http.get("/api/v2/ping").status_code == 200
    assert time.monotonic() - started < 1.5
    poll.join()
    assert result["events"] == []


def test_only_administrators_see_administrators_actions(site: Site) -> None:
    cursor = _cursor(site)
    _add(site, "admin.user_created", "bob", level="readonly")
    _add(site, "file.committed", "obs/a", size=3)
    reader = _get(site, "reader", after=cursor)
    assert [e["kind"] for e in reader["events"]] == ["file.committed"]
    assert _get(site, "reader", after=cursor, kinds="admin.*")["events"] == []
    admin = _get(site, "admin", after=cursor)
    assert [e["kind"] for e in admin["events"]] == ["admin.user_created", "file.committed"]
    only = _get(site, "admin", after=cursor, kinds="admin.*")
    assert [e["subject"] for e in only["events"]] == ["bob"]
    # The reader's cursor moves past what it may not see, so it is not read again.
    assert reader["next"] == admin["next"]


def test_a_filtered_reader_moves_past_other_kinds(site: Site) -> None:
    cursor = _cursor(site)
    for i in range(5):
        _add(site, "task.failed", f"t{i}")
    page = _get(site, after=cursor, kinds="copy.confirmed,damage.*")
    assert page["events"] == [] and page["next"] == cursor + 5


def test_bad_parameters_are_400s(site: Site) -> None:
    for params in (
        {"limit": 0},
        {"limit": 1001},
        {"after": -1},
        {"wait": 61},
        {"wait": -1},
        {"kinds": "a;b"},
    ):
        r = site.http.get("/api/v2/events", params=params, auth=site.auth("reader"))
        assert r.status_code == 400, (params, r.text)
        assert r.json()["code"] == "validation_error"
    assert site.http.get("/api/v2/events").status_code == 401
