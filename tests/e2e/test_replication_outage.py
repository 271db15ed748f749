"""A peer down for longer than the whole backoff schedule, then back: nothing fails.

Two live sites; the peer is stopped before anything is sent, so every batch to it
fails until it returns. The source's backoff is short here (0.5 s doubling to
2 s) and its files have only two attempts each: spending attempts on the outage,
as replication once did, would fail every file within seconds. Instead the peer
backs off, its health shows it, and when it is back everything arrives with no
command and no file FAILED. The outage and the recovery take about 30 s; each
wait is bounded, so a regression fails in well under a minute past setup.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import LiveServer
from tests.e2e.sites import admin_http, has_files, link, outgoing, site_env, wait_for

pytestmark = pytest.mark.e2e

OUTAGE_SETTINGS = {
    "LIBRARIAN_SERVER_REPLICATION__PEER_BACKOFF_SECONDS": "0.5",
    "LIBRARIAN_SERVER_REPLICATION__PEER_BACKOFF_MAX_SECONDS": "2",
    "LIBRARIAN_SERVER_REPLICATION__MAX_ATTEMPTS": "2",
}


def _peer(server: LiveServer, name: str) -> dict[str, Any]:
    """The peer as the operator's CLI lists it."""
    result = server.cli("--json", "peers", user="admin")
    assert result.returncode == 0, result
    found: dict[str, Any] = next(p for p in result.json() if p["name"] == name)
    return found


def test_peer_down_past_the_backoff_schedule_then_back_everything_arrives(
    start_server: Callable[..., LiveServer],
    database_url: str | None,
    new_database: Callable[[], str | None],
    tmp_path: Path,
) -> None:
    alpha = start_server(database_url, env=site_env("src-outage", **OUTAGE_SETTINGS))
    beta = start_server(new_database(), env=site_env("dst-outage"))
    link(alpha, beta, "--managers", "http")
    beta.stop()

    files = {f"s{i:02d}.dat": os.urandom(1000 + i) for i in range(30)}
    files["big.dat"] = os.urandom(3 * 1024 * 1024)  # a streamed PUT, not a bundle
    (tmp_path / "in").mkdir()
    for name, data in files.items():
        (tmp_path / "in" / name).write_bytes(data)
    names = [f"o/{n}" for n in files]
    assert alpha.cli("upload", str(tmp_path / "in"), "o/").returncode == 0

    # Five failures in a row: past max_attempts, and past the cap of the schedule.
    wait_for(
        lambda: _peer(alpha, beta.site)["consecutive_failures"] >= 5,
        timeout=30,
        what="alpha to fail to reach beta five times",
    )
    peer = _peer(alpha, beta.site)
    assert peer["health"] in ("backing-off", "failing") and "unreachable" in peer["last_error"]
    table = alpha.cli("peers", user="admin")
    assert table.returncode == 0 and "failure(s)" in table.stdout
    assert "failure(s) in a row; next attempt" in alpha.admin("peers").stdout  # server CLI
    rows = [t for t in outgoing(alpha) if t["name"] in names]
    assert len(rows) == len(names)
    assert {t["status"] for t in rows} == {"INITIATED"} and {t["attempts"] for t in rows} == {0}

    beta.start()
    wait_for(lambda: has_files(beta, names), timeout=30, what="every file at beta")
    wait_for(
        lambda: {t["status"] for t in outgoing(alpha) if t["name"] in names} == {"COMPLETED"},
        timeout=15,
        what="alpha to record every copy",
    )
    rows = outgoing(alpha)
    assert not [t for t in rows if t["status"] == "FAILED"]
    assert {t["attempts"] for t in rows} == {0}  # the outage cost no file an attempt
    peer = _peer(alpha, beta.site)
    assert (peer["health"], peer["consecutive_failures"], peer["next_attempt_after"]) == (
        "ok",
        0,
        None,
    )
    with admin_http(beta) as http:
        assert http.get("/api/v2/download/o/big.dat").content == files["big.dat"]
