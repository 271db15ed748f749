"""``librarian events``: a page of the log as lines or JSON, and ``--follow`` as it grows."""

from __future__ import annotations

import io
import json
import threading

import pytest

from librarian_client.cli import main
from librarian_server.services.core import events
from tests.integration.cli.conftest import Run
from tests.integration.conftest import Site


def _add(site: Site, kind: str, subject: str, **detail: object) -> None:
    with site.factory.begin() as session:
        events.record(session, kind, actor="alice", subject=subject, detail=dict(detail))


def _end_of_log(cli: Run) -> int:
    return int(cli("events", "--json", "--limit", "1000", user="admin").json()["next"])


def test_lines_json_kinds_and_the_cursor(cli: Run, site: Site) -> None:
    start = _end_of_log(cli)
    _add(site, "file.committed", "obs/a.fits", size=10)
    _add(site, "transfer.failed", "obs/b.fits", peer="beta", reason="refused")
    _add(site, "admin.user_created", "bob")

    text = cli("events", "--after", str(start), user="reader")
    assert text.code == 0, text
    lines = text.out.splitlines()
    assert len(lines) == 2  # the admin's action is not the reader's to see
    seq, day, clock, kind, subject, actor = lines[0].split()
    assert (kind, subject, actor) == ("file.committed", "obs/a.fits", "alice")
    assert int(seq) > start and day.count("-") == 2 and clock.endswith("Z")
    assert lines[1].split()[3] == "transfer.failed"
    # The cursor to read on from is past the admin's action too: it is never read again.
    cursor = int(text.err.rsplit("--after", 1)[1])
    assert cursor > int(lines[1].split()[0])
    assert cli("events", "--after", str(cursor), user="admin").out == ""

    page = cli("events", "--after", str(start), "--kinds", "transfer.failed", "--json").json()
    [event] = page["events"]
    assert event["detail"] == {"peer": "beta", "reason": "refused"}
    assert page["next"] >= event["seq"]

    admin = cli("events", "--after", str(start), "--kinds", "admin.*", "--json", user="admin")
    assert [e["subject"] for e in admin.json()["events"]] == ["bob"]

    limited = cli("events", "--after", str(start), "--limit", "1", user="admin")
    assert len(limited.out.splitlines()) == 1
    nothing = cli("events", "--after", str(_end_of_log(cli)))
    assert (nothing.code, nothing.out) == (0, "") and "no events" in nothing.err


def test_bad_options_are_usage_errors(cli: Run) -> None:
    assert cli("events", "--after", "-3").code == 2
    assert cli("events", "--limit", "0").code == 2


class _Head(io.StringIO):
    """stdout as ``| head -n N`` sees it: the pipe closes after N lines."""

    def __init__(self, lines: int) -> None:
        super().__init__()
        self.lines = lines

    def write(self, text: str) -> int:
        written = super().write(text)
        if self.getvalue().count("\n") >= self.lines:
            raise BrokenPipeError
        return written


def test_follow_prints_events_as_they_happen(
    cli: Run, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    start = _end_of_log(cli)
    _add(site, "file.committed", "obs/1", size=1)
    _add(site, "copy.confirmed", "obs/1", peer="beta", size=1)
    later = threading.Timer(0.5, _add, args=(site, "file.committed", "obs/2"))
    head = _Head(3)
    monkeypatch.setattr("sys.stdout", head)
    later.start()
    try:
        code = main(
            ["--connection", "reader", "events", "--after", str(start), "--follow", "--json"],
            transport=site.http._transport,
        )
    finally:
        later.join()
        monkeypatch.undo()
    assert code == 1  # the reader went away: the one way a follow ends
    got = [json.loads(line) for line in head.getvalue().splitlines()]
    assert [(e["kind"], e["subject"]) for e in got] == [
        ("file.committed", "obs/1"),
        ("copy.confirmed", "obs/1"),
        ("file.committed", "obs/2"),
    ]
    assert [e["seq"] for e in got] == sorted(e["seq"] for e in got)


def test_the_client_library_follows_from_a_cursor(site: Site) -> None:
    with site.client("reader") as client:
        start = client.events(limit=1000).next
        while (page := client.events(start, limit=1000)).events:
            start = page.next
        _add(site, "damage.found", "obs/x", store="local")
        timer = threading.Timer(0.3, _add, args=(site, "damage.repaired", "obs/x"))
        timer.start()
        try:
            seen = []
            for event in client.follow_events(start, ["damage.*"]):
                seen.append(event.kind)
                if len(seen) == 2:
                    break
        finally:
            timer.join()
    assert seen == ["damage.found", "damage.repaired"]
