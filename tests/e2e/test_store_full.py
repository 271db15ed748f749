"""A store with a small capacity: uploads beyond its room fail cleanly and leave nothing."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.e2e.conftest import LiveServer

pytestmark = pytest.mark.e2e

KiB = 1 << 10
CAPACITY = 1024 * KiB


@pytest.fixture(scope="module")
def server(start_server: Callable[..., LiveServer], database_url: str | None) -> LiveServer:
    return start_server(database_url, store_capacity=CAPACITY, users={"writer": "read-append"})


def room(server: LiveServer) -> int:
    (store,) = server.cli("stores", "--json", user="admin").json()
    assert store["capacity_bytes"] == CAPACITY
    free: int = store["free_bytes"]
    return free


def test_an_upload_refused_for_a_name_clash_holds_no_room(
    server: LiveServer, tmp_path: Path
) -> None:
    src = tmp_path / "batch"
    src.mkdir()
    (src / "a").write_bytes(b"first version")
    assert server.cli("upload", str(src / "a"), "clash/a").returncode == 0
    before = room(server)

    (src / "a").write_bytes(b"second version")
    (src / "b").write_bytes(os.urandom(100 * KiB))
    line = server.cli("upload", str(src), "clash/").error()
    assert "clash/a" in line

    assert [f["name"] for f in server.cli("ls", "clash/", "--json").json()] == ["clash/a"]
    assert room(server) == before
    assert server.staging_entries() == []


def test_upload_bigger_than_the_room_left_fails_and_leaves_nothing(
    server: LiveServer, tmp_path: Path
) -> None:
    start, staged = room(server), server.staging_entries()
    fits, too_big, huge, last = (tmp_path / n for n in ("fits", "too-big", "huge", "last"))
    fits.write_bytes(os.urandom(512 * KiB))
    left = start - 512 * KiB
    too_big.write_bytes(os.urandom(left + 1))
    huge.write_bytes(os.urandom(3 * CAPACITY))
    last.write_bytes(os.urandom(left))

    assert server.cli("upload", str(fits), "full/fits").returncode == 0
    assert room(server) == left
    stored = server.stored_files()

    for local in (too_big, huge):
        line = server.cli("upload", str(local), f"full/{local.name}").error()
        assert "room" in line
        assert "store" in line
        assert str(local.stat().st_size) in line

    assert [f["name"] for f in server.cli("ls", "full/", "--json").json()] == ["full/fits"]
    assert server.staging_entries() == staged
    assert server.stored_files() == stored
    assert room(server) == left

    # Exactly the room that is left still fits.
    assert server.cli("upload", str(last), "full/last").returncode == 0
    assert room(server) == 0
    out = tmp_path / "out"
    assert server.cli("download", "full/last", str(out)).returncode == 0
    assert out.read_bytes() == last.read_bytes()
