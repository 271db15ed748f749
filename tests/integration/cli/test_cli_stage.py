"""``librarian stage``: start, follow, list and cancel staging jobs on a cold store."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.integration.cli.conftest import Run
from tests.integration.cold.conftest import (  # noqa: F401 - the fixtures
    FAST,
    Tape,
    put_on_cold,
    run_round,
    tape,
    tape_options,
    to_tape,
)
from tests.integration.conftest import Site
from tests.integration.helpers import upload

FILES = {f"night/{i}.fits": f"pixels {i}".encode() * 10 for i in range(5)}


@pytest.fixture
def site(make_site: Callable[..., Site], tape: Tape) -> Site:  # noqa: F811 - the cold one
    cold = make_site(cold=FAST)
    put_on_cold(cold, tape)
    for name, data in FILES.items():
        upload(cold.http, cold.auth(), name, data)
    to_tape(cold)
    return cold


@pytest.fixture
def staging_rounds(site: Site) -> Iterator[None]:
    """The staging task, as a server runs it, while the command waits."""
    stop = threading.Event()

    def rounds() -> None:
        while not stop.wait(0.05):
            run_round(site)

    thread = threading.Thread(target=rounds, daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(10)


def test_stage_a_prefix_and_wait(cli: Run, site: Site, staging_rounds: Any) -> None:
    done = cli("stage", "--prefix", "night/", "--wait", "--interval", "0.05")
    assert done.code == 0, done
    assert "5 file(s)" in done.err
    assert done.out.strip().endswith("complete: 5 ready, 0 pending, 0 error")
    job = done.out.split()[1]
    again = cli("--json", "stage", "--job", job)
    assert again.json()["state"] == "complete" and again.json()["counts"]["ready"] == 5
    listed = cli("stage", "--list")
    assert job in listed.out and "complete" in listed.out
    got = site.http.get("/api/v2/download/night/3.fits", auth=site.auth())
    assert got.status_code == 200 and got.content == FILES["night/3.fits"]


def test_stage_and_cancel(cli: Run, tape: Tape) -> None:  # noqa: F811
    tape.configure(stage_delay=60)
    started = cli("--json", "stage", "night/0.fits", "night/1.fits")
    job = started.json()
    assert job["state"] == "pending" and "notify_secret" not in job
    cancelled = cli("stage", "--cancel", job["id"])
    assert cancelled.code == 0 and "cancelled" in cancelled.out


def test_stage_errors_are_one_line(cli: Run) -> None:
    nothing = cli("stage")
    assert nothing.code == 1 and "Name the files" in nothing.err
    missing = cli("stage", "night/none.fits")
    assert missing.code == 1 and "No file named 'night/none.fits'" in missing.err
    assert missing.err.count("\n") == 1 and missing.err.rstrip().endswith("[not_found]")
    other = cli("stage", "--job", "0" * 32, user="reader")
    assert other.code == 1 and "[not_found]" in other.err
