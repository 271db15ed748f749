"""``librarian release`` and ``librarian stores`` against the in-process server."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from librarian_server.orm import Instance, utcnow
from librarian_server.services.catalogue.stores import add_store
from librarian_server.services.integrity.policies import set_policy
from tests.integration.cli.conftest import Run
from tests.integration.conftest import Site
from tests.integration.helpers import upload


@pytest.fixture
def site(make_site: Callable[..., Site], tmp_path: Path) -> Site:
    made = make_site()
    with made.factory.begin() as session:
        add_store(session, "slow", tmp_path / "slow", make_buckets=False)
        set_policy(session, "local", after_days=30, move_to="slow")
    for name in ("old/a.dat", "old/b.dat", "new/c.dat"):
        upload(made.http, made.auth(), name, os.urandom(1000))
    with made.factory.begin() as session:
        session.execute(
            update(Instance)
            .where(Instance.file_name.startswith("old/"))
            .values(created_time=utcnow() - timedelta(days=31))
        )
    return made


def test_stores_shows_each_policy(cli: Run) -> None:
    ran = cli("stores", user="admin")
    assert ran.code == 0, ran
    header, *rows = ran.out.splitlines()
    assert "POLICY" in header.split()
    assert "after 30 d: move to slow" in next(r for r in rows if r.startswith("local"))
    (local,) = [s for s in cli("stores", "--json", user="admin").json() if s["name"] == "local"]
    assert local["policy"]["action"] == "move" and local["policy"]["target_store"] == "slow"


def test_release_dry_run_lists_why_and_json_is_exact(cli: Run) -> None:
    ran = cli("release", "--store", "local", "--dry-run", user="admin")
    assert ran.code == 0, ran
    lines = ran.out.splitlines()
    assert lines[0].split() == ["VERDICT", "SIZE", "NAME"]
    assert [line.split()[0] for line in lines[1::2]] == ["would", "would"]
    assert lines[2].strip() == "move to slow"
    assert "2 would be released" in ran.err
    found = cli("release", "--store", "local", "--dry-run", "--json", user="admin").json()
    assert [(c["name"], c["releasable"], c["released"]) for c in found] == [
        ("old/a.dat", True, False),
        ("old/b.dat", True, False),
    ]


def test_release_moves_and_says_how_much(cli: Run) -> None:
    ran = cli("release", "--store", "local", "--no-progress", user="admin")
    assert ran.code == 0, ran
    assert "2 released" in ran.err
    again = cli("release", "--store", "local", "--dry-run", "--json", user="admin").json()
    assert again == []


def test_release_needs_an_admin(cli: Run) -> None:
    ran = cli("release", "--store", "local", "--dry-run", user="writer")
    assert ran.code != 0
    assert "admin" in ran.err.lower()
