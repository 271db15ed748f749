"""The event log's reading order, the per-day tallies kept from it, and task runs."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import select

from librarian_server.orm import Event, TaskRun, utcnow
from librarian_server.services.core import events
from librarian_server.services.site import stats
from tests.integration.conftest import Site


def _add(site: Site, kind: str, subject: str, **detail: object) -> None:
    with site.factory.begin() as session:
        events.record(session, kind, actor="test", subject=subject, detail=dict(detail))


def test_an_event_committed_late_is_read_after_what_was_read_before(site: Site) -> None:
    """A transaction that inserted first but commits last is still seen by a reader
    that already read past the events committed in between."""
    late = site.factory()
    late.begin()
    events.record(late, "file.committed", actor="test", subject="late", detail={"size": 1})
    late.flush()  # its id is taken now, before the others'
    try:
        if site.settings.is_embedded:
            late.commit()  # SQLite has one writer: the interleaving cannot happen there
            committed_late = False
        else:
            committed_late = True
        _add(site, "file.committed", "early", size=2)
        with site.factory.begin() as session:
            events.sequence(session)
        with site.factory() as session:
            first = events.read(session, after=0, limit=100)
        cursor = first[-1].seq or 0
        if committed_late:
            late.commit()
    finally:
        late.close()
    with site.factory.begin() as session:
        events.sequence(session)
    with site.factory() as session:
        rest = events.read(session, after=cursor, limit=100)
    seen = [e.subject for e in first + rest]
    assert sorted(seen) == ["early", "late"] and len(seen) == 2


def test_two_sequencers_at_once_never_give_a_number_twice(site: Site) -> None:
    with site.factory.begin() as session:
        events.record_many(
            session, "file.committed", actor="t", items=((f"f{i}", {"size": i}) for i in range(300))
        )
    errors: list[BaseException] = []

    def run() -> None:
        try:
            for _ in range(5):
                with site.factory.begin() as session:
                    events.sequence(session, limit=37)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with site.factory.begin() as session:
        events.sequence(session)
    with site.factory() as session:
        got = list(session.scalars(select(Event.seq).order_by(Event.id)))
    seqs = [s for s in got if s is not None]
    assert len(seqs) == len(got) == 300
    assert sorted(seqs) == list(range(seqs[0], seqs[0] + len(seqs)))
    assert seqs == sorted(seqs), "seq follows id when nothing commits out of order"


def test_kinds_filter_and_the_admin_family(site: Site) -> None:
    _add(site, "file.committed", "a", size=1)
    _add(site, "admin.user_created", "bob")
    _add(site, "task.failed", "audit", error="x")
    with site.factory.begin() as session:
        events.sequence(session)
    with site.factory() as session:

        def kinds(only: list[str], include_admin: bool = True) -> list[str]:
            got = events.read(session, after=0, limit=10, kinds=only, include_admin=include_admin)
            return [e.kind for e in got]

        assert kinds(["admin.*"]) == ["admin.user_created"]
        assert kinds(["task.failed", "file.committed"]) == ["file.committed", "task.failed"]
        assert "admin.user_created" not in kinds([], include_admin=False)


def test_tallies_follow_commits_deletions_and_confirmations(site: Site) -> None:
    before = _totals(site)
    _add(site, "file.committed", "a", size=100)
    _add(site, "file.committed", "b", size=50)
    _add(site, "file.deleted", "a", size=100)
    _add(site, "copy.confirmed", "b", size=50, peer="beta")
    _add(site, "admin.user_created", "bob")  # not tallied, but passed
    with site.factory.begin() as session:
        assert stats.tally(session, limit=2) == 2  # a batch at a time
    with site.factory.begin() as session:
        assert stats.tally(session, limit=100) == 2
    with site.factory.begin() as session:
        assert stats.tally(session, limit=100) == 0  # folded once only
    after = _totals(site)
    assert (after.files - before.files, after.bytes - before.bytes) == (1, 50)
    with site.factory() as session:
        today = stats.growth(session, days=7)
        beta = stats.peer_throughput(session, days=7)["beta"]
    assert len(today) == 7 and today[-1].day == utcnow().date()
    assert today[-1].files >= 2 and today[-1].bytes >= 150
    assert (beta[-1].files, beta[-1].bytes) == (1, 50) and beta[0].files == 0


def test_uploads_reach_the_totals_through_the_tally_task(site: Site) -> None:
    from tests.integration.helpers import upload

    before = _totals(site)
    upload(site.http, site.auth(), "obs/one.dat", b"x" * 1000)
    run = site.http.post("/api/v2/tasks/tally/run", auth=site.auth("admin"))
    assert run.status_code == 200, run.text
    after = _totals(site)
    assert (after.files - before.files, after.bytes - before.bytes) == (1, 1000)


def test_task_runs_are_remembered_and_a_failure_is_an_event(site: Site) -> None:
    from librarian_server.services.core.task_runs import record_run

    start = utcnow() - timedelta(seconds=2)
    record_run(site.factory, "audit", started=start, seconds=1.5, summary={"n": 3}, error=None)
    record_run(site.factory, "audit", started=start, seconds=0.5, summary={}, error="OSError: x")
    with site.factory() as session:
        run = session.get(TaskRun, "audit")
        assert run is not None
        assert (run.runs, run.failures, run.last_ok, run.last_error) == (2, 1, False, "OSError: x")
        states = {s.name: s for s in stats.task_states(session, site.settings)}
        failed = session.scalars(select(Event).where(Event.kind == "task.failed")).all()
    assert states["audit"].failures == 1 and states["audit"].last_seconds == 0.5
    assert states["release"].runs == 0 and states["release"].last_started is None
    assert [e.subject for e in failed] == ["audit"]


def _totals(site: Site) -> stats.Totals:
    with site.factory.begin() as session:
        while stats.tally(session, limit=1000):
            pass
    with site.factory() as session:
        return stats.totals(session)


def test_store_counts_are_a_snapshot_refreshed_when_old(site: Site) -> None:
    from tests.integration.helpers import upload

    upload(site.http, site.auth(), "obs/a.dat", b"a" * 10)
    upload(site.http, site.auth(), "obs/b.dat", b"b" * 30)
    with site.factory.begin() as session:
        assert stats.refresh_store_counts(session, audit_period=timedelta(days=30)) >= 1
    upload(site.http, site.auth(), "obs/c.dat", b"c" * 5)
    with site.factory.begin() as session:  # fresh: not counted again
        assert stats.refresh_store_counts(session, audit_period=timedelta(days=30)) == 0
    with site.factory() as session:
        (counts,) = stats.store_counts(session).values()
    assert (counts.copies, counts.bytes, counts.verified_recently) == (2, 40, 2)
    assert counts.coverage == 1.0 and counts.verified_bad == 0
    with site.factory.begin() as session:
        stats.refresh_store_counts(session, audit_period=timedelta(days=30), max_age_seconds=0)
    with site.factory() as session:
        (counts,) = stats.store_counts(session).values()
    assert (counts.copies, counts.bytes) == (3, 45)
