"""Replication when things go wrong: damaged bytes, a peer dying mid-batch, two workers.

Each test builds its own pair of live sites; the network between them runs
through a proxy on loopback that can flip bytes or slow the flow down.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import LIBRARIAN_SERVER, LiveServer
from tests.e2e.proxy import proxy_to
from tests.e2e.sites import (
    admin_http,
    file_info,
    has_files,
    incoming,
    link,
    outgoing,
    site_env,
    wait_for,
)

pytestmark = pytest.mark.e2e


def _pair(
    start_server: Callable[..., LiveServer],
    database_url: str | None,
    new_database: Callable[[], str | None],
    tag: str,
    *,
    source_env: dict[str, str] | None = None,
) -> tuple[LiveServer, LiveServer]:
    source = start_server(
        database_url if tag == "corrupt" else new_database(),
        env=site_env(f"src-{tag}", **(source_env or {})),
    )
    dest = start_server(new_database(), env=site_env(f"dst-{tag}"))
    return source, dest


def test_bytes_corrupted_in_flight_are_refused_then_sent_again(
    start_server: Callable[..., LiveServer],
    database_url: str | None,
    new_database: Callable[[], str | None],
    tmp_path: Path,
) -> None:
    alpha, beta = _pair(start_server, database_url, new_database, "corrupt")
    small, large = os.urandom(5000), os.urandom(2 * 1024 * 1024 + 3)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "small.dat").write_bytes(small)
    (tmp_path / "in" / "large.dat").write_bytes(large)
    with proxy_to(beta.port, corrupt=2) as proxy:
        link(alpha, beta, "--managers", "http", url=proxy.url)
        assert alpha.cli("upload", str(tmp_path / "in"), "c/").returncode == 0
        names = ["c/small.dat", "c/large.dat"]
        wait_for(lambda: has_files(beta, names), what="the good copies at beta")
    assert len(proxy.corrupted) == 2  # the bundle and the PUT were both damaged once
    for name, data in zip(names, (small, large), strict=True):
        back = tmp_path / name.replace("/", "_")
        assert beta.cli("download", name, str(back)).returncode == 0
        assert back.read_bytes() == data
    # beta refused each damaged copy, then committed the good one; nothing else arrived.
    tries = [t for t in incoming(beta) if t["peer"] == alpha.site]
    assert Counter((t["name"], t["status"]) for t in tries) == {
        ("c/small.dat", "FAILED"): 1,
        ("c/small.dat", "COMPLETED"): 1,
        ("c/large.dat", "FAILED"): 1,
        ("c/large.dat", "COMPLETED"): 1,
    }
    assert all("checksum mismatch" in t["error"] for t in tries if t["status"] == "FAILED")
    sent = {t["name"]: t for t in outgoing(alpha)}
    assert {sent[n]["status"] for n in names} == {"COMPLETED"}
    assert {sent[n]["attempts"] for n in names} == {1}  # one failed attempt each
    wait_for(lambda: beta.staging_entries() == [], what="beta's staging to empty")
    assert len(beta.stored_files()) == 2


def test_peer_down_mid_batch_then_everything_arrives_once(
    start_server: Callable[..., LiveServer],
    database_url: str | None,
    new_database: Callable[[], str | None],
    tmp_path: Path,
) -> None:
    alpha, beta = _pair(start_server, database_url, new_database, "down")
    files = {f"s{i:02d}.dat": os.urandom(2000 + i) for i in range(40)}
    files["big.dat"] = os.urandom(48 * 1024 * 1024)
    (tmp_path / "in").mkdir()
    for name, data in files.items():
        (tmp_path / "in" / name).write_bytes(data)
    names = [f"d/{n}" for n in files]
    # 12 MB/s through the proxy: the big file takes seconds, long enough to kill beta.
    with proxy_to(beta.port, bytes_per_second=12e6) as proxy:
        link(alpha, beta, "--managers", "http", url=proxy.url)
        assert alpha.cli("upload", str(tmp_path / "in"), "d/").returncode == 0

        def big_file_arriving() -> bool:
            staging = beta.store_dir / "staging"
            return any(p.stat().st_size > 1 << 20 for p in staging.iterdir())

        wait_for(big_file_arriving, timeout=60, what="the big file to be on its way")
        beta.kill()
        wait_for(
            lambda: any(q["status"] == "FAILED" for q in _queues(alpha)),
            what="alpha to notice beta is gone",
        )
        beta.start()
        wait_for(lambda: has_files(beta, names), timeout=120, what="every file at beta")
        wait_for(
            lambda: {t["status"] for t in outgoing(alpha) if t["name"] in names} == {"COMPLETED"},
            what="alpha to record every copy",
        )
    failed = [q for q in _queues(alpha) if q["status"] == "FAILED"]
    assert failed and all(q["error"] for q in failed)
    # Exactly once: one File and one stored copy each, one completed transfer each.
    completed = Counter(t["name"] for t in incoming(beta) if t["status"] == "COMPLETED")
    assert completed == Counter(names)
    assert Counter(t["name"] for t in outgoing(alpha)) == Counter(names)
    wait_for(lambda: beta.staging_entries() == [], what="beta's staging to empty")
    assert len(beta.stored_files()) == len(names)
    with admin_http(beta) as http:
        got = http.get("/api/v2/download/d/big.dat").content
    assert hashlib.sha256(got).digest() == hashlib.sha256(files["big.dat"]).digest()


def test_a_copy_the_sender_finds_rotten_is_marked_bad_and_never_served(
    start_server: Callable[..., LiveServer],
    database_url: str | None,
    new_database: Callable[[], str | None],
    tmp_path: Path,
) -> None:
    alpha, beta = _pair(start_server, database_url, new_database, "rot")
    good, rotten = os.urandom(3000), os.urandom(4000)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "good.dat").write_bytes(good)
    (tmp_path / "in" / "rotten.dat").write_bytes(rotten)
    assert alpha.cli("upload", str(tmp_path / "in"), "r/").returncode == 0
    info = file_info(alpha, "r/rotten.dat")
    assert info is not None
    stored = alpha.store_dir / "files" / info["instances"][0]["path"]
    stored.chmod(0o600)
    stored.write_bytes(rotten[:-1] + bytes([rotten[-1] ^ 1]))  # bit rot: same size

    link(alpha, beta, "--managers", "http")
    wait_for(lambda: has_files(beta, ["r/good.dat"]), what="the good file at beta")

    def state(name: str) -> object:
        found = file_info(alpha, name)
        return found and found["instances"][0]["verified_result"]

    wait_for(lambda: state("r/rotten.dat") == "bad", what="alpha to mark its copy bad")
    assert state("r/good.dat") == "ok"  # read and hashed right on its way out
    with admin_http(alpha) as http:
        r = http.get("/api/v2/download/r/rotten.dat")
    assert r.status_code == 409 and r.json()["error"] == "CopyFailedVerification"
    target = tmp_path / "back.dat"
    result = alpha.cli("download", "r/rotten.dat", str(target))
    assert result.returncode != 0 and "verification" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not target.exists()
    assert any(
        " ERROR " in line and "r/rotten.dat" in line and "failed verification" in line
        for line in alpha.log_text().splitlines()
    )
    assert not has_files(beta, ["r/rotten.dat"])  # the damaged bytes went nowhere


def _queues(server: LiveServer) -> list[dict[str, object]]:
    with admin_http(server) as http:
        response = http.get("/api/v2/queues", params={"limit": "1000"})
    response.raise_for_status()
    queues: list[dict[str, object]] = response.json()
    return queues


@pytest.fixture
def background_processes() -> Iterator[Callable[[LiveServer, Path], subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []

    def start(server: LiveServer, log: Path) -> subprocess.Popen[bytes]:
        with open(log, "wb") as handle:  # the child keeps its own descriptor
            process = subprocess.Popen(
                [*LIBRARIAN_SERVER, "background", "--data-dir", str(server.data_dir)],
                env=server.env,
                stdout=handle,
                stderr=subprocess.STDOUT,
            )
        started.append(process)
        return process

    yield start
    for process in started:
        process.terminate()
        process.wait(30)


def test_two_background_processes_never_send_a_file_twice(
    start_server: Callable[..., LiveServer],
    database_url: str | None,
    new_database: Callable[[], str | None],
    background_processes: Callable[[LiveServer, Path], subprocess.Popen[bytes]],
    tmp_path: Path,
) -> None:
    if database_url is None:
        pytest.skip("several background processes share a PostgreSQL database")
    alpha, beta = _pair(
        start_server,
        database_url,
        new_database,
        "workers",
        source_env={
            "LIBRARIAN_SERVER_BACKGROUND__IN_SERVER": "false",
            "LIBRARIAN_SERVER_BACKGROUND__SEND_CLONE__BATCH_SIZE": "10",
        },
    )
    link(alpha, beta, "--managers", "http")
    count = 300
    (tmp_path / "in").mkdir()
    for i in range(count):
        (tmp_path / "in" / f"w{i:03d}.dat").write_bytes(os.urandom(1000 + i))
    names = [f"w/w{i:03d}.dat" for i in range(count)]
    assert alpha.cli("upload", str(tmp_path / "in"), "w/").returncode == 0
    workers = [background_processes(alpha, tmp_path / f"worker{i}.log") for i in range(2)]
    wait_for(lambda: has_files(beta, names), timeout=180, what="every file at beta")
    for worker in workers:
        assert worker.poll() is None, "a background process died"
    # Each file crossed once: one transfer at each end, and no batch claimed twice.
    assert Counter(t["name"] for t in incoming(beta) if t["peer"]) == Counter(names)
    assert Counter(t["name"] for t in outgoing(alpha)) == Counter(names)
    queues = _queues(alpha)
    assert sum(int(str(q["file_count"])) for q in queues) == count
    assert len({q["claimed_by"] for q in queues}) == 2, "both processes should have sent"
