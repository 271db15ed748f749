"""``/metrics`` of a site served by two API workers with its background tasks in a
process of their own, replicating to a second site: whichever worker answers a scrape,
it shows every process's counters added up, and the catalogue's gauges."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import LIBRARIAN_SERVER, LiveServer
from tests.e2e.sites import has_files, link, site_env, wait_for

pytestmark = pytest.mark.e2e

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
PING = {"route": "/api/v2/ping", "method": "GET", "status": "200"}
SCRAPE = {"route": "/metrics", "method": "GET", "status": "200"}


def parse(text: str) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def scrape(server: LiveServer) -> Samples:
    # A connection of its own each time, so that either worker may take it.
    response = httpx.get(f"{server.url}/metrics", headers={"Connection": "close"}, timeout=30)
    assert response.status_code == 200, response.text
    return parse(response.text)


def per_process(server: LiveServer) -> dict[str, Samples]:
    """Each process's own counters, read from its files in the site's metrics directory."""
    found: dict[str, Samples] = {}
    for path in sorted((server.data_dir / "metrics").glob("counter_*.db")):
        metrics = MultiProcessCollector.merge([str(path)])  # type: ignore[no-untyped-call]
        found[path.stem.removeprefix("counter_")] = {
            (s.name, frozenset(s.labels.items())): s.value for m in metrics for s in m.samples
        }
    return found


def ping(server: LiveServer, times: int) -> None:
    for _ in range(times):
        r = httpx.get(f"{server.url}/api/v2/ping", headers={"Connection": "close"}, timeout=30)
        assert r.status_code == 200


@pytest.fixture(scope="module")
def sites(
    start_server: Callable[..., LiveServer],
    database_url: str | None,
    new_database: Callable[[], str | None],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[LiveServer, LiveServer]]:
    if database_url is None:
        pytest.skip("several API workers need PostgreSQL")
    alpha = start_server(
        database_url,
        env=site_env(
            "alpha",
            LIBRARIAN_SERVER_WORKERS="2",
            LIBRARIAN_SERVER_BACKGROUND__IN_SERVER="false",
        ),
    )
    beta = start_server(new_database(), env=site_env("beta"))
    link(alpha, beta, "--managers", "http")
    log = tmp_path_factory.mktemp("alpha-background") / "background.log"
    with open(log, "wb") as handle:  # the child keeps its own descriptor
        background = subprocess.Popen(
            [*LIBRARIAN_SERVER, "background", "--data-dir", str(alpha.data_dir)],
            env=alpha.env,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
    try:
        yield alpha, beta
    finally:
        background.terminate()
        background.wait(30)


def test_every_process_counts_into_one_answer(
    sites: tuple[LiveServer, LiveServer], tmp_path: Path
) -> None:
    alpha, beta = sites
    files = {f"m{i:02d}.dat": os.urandom(2000 + i) for i in range(12)}
    (tmp_path / "in").mkdir()
    for name, data in files.items():
        (tmp_path / "in" / name).write_bytes(data)
    assert alpha.cli("upload", str(tmp_path / "in"), "m/").returncode == 0
    names = [f"m/{n}" for n in files]
    total = sum(len(d) for d in files.values())
    wait_for(lambda: has_files(beta, names), what="the files at beta")

    def confirmed() -> Samples | None:
        samples = scrape(alpha)
        done = value(samples, "librarian_transfers_total", peer="beta", outcome="confirmed")
        backlog = value(samples, "librarian_replication_backlog_files", peer="beta")
        return samples if done == len(names) and backlog == 0 else None

    samples = wait_for(confirmed, what="alpha to count beta's confirmations")
    # Uploads were committed by the API workers, transfers by the background process.
    assert value(samples, "librarian_files_committed_total", via="upload") == len(names)
    assert value(samples, "librarian_committed_bytes_total", via="upload") == total
    assert value(samples, "librarian_transfers_total", peer="beta", outcome="sent") == len(names)
    assert value(samples, "librarian_transfers_total", peer="beta", outcome="failed") == 0
    assert value(samples, "librarian_task_runs_total", task="send_clone") >= 1
    assert value(samples, "librarian_task_duration_seconds_count", task="send_clone") >= 1
    assert value(samples, "librarian_replication_backlog_bytes", peer="beta") == 0
    assert value(samples, "librarian_replication_oldest_unconfirmed_seconds", peer="beta") == 0
    assert value(samples, "librarian_store_used_bytes", store="local") == total
    assert value(samples, "librarian_store_instances", store="local") == len(names)
    at_beta = scrape(beta)
    assert value(at_beta, "librarian_files_committed_total", via="clone") == len(names)
    assert value(at_beta, "librarian_store_used_bytes", store="local") == total

    # Requests: ping until both workers have answered some, then every scrape, whichever
    # worker gives it, shows exactly the pings made, and one more scrape than the last.
    before = value(scrape(alpha), "librarian_http_requests_total", **PING)
    made = 0

    def both_workers_pinged() -> bool:
        nonlocal made
        ping(alpha, 20)
        made += 20
        pinged = [
            p
            for p in per_process(alpha).values()
            if value(p, "librarian_http_requests_total", **PING)
        ]
        return len(pinged) >= 2

    wait_for(both_workers_pinged, timeout=60, what="both API workers to answer pings")
    last = None
    for _ in range(12):
        samples = scrape(alpha)
        assert value(samples, "librarian_http_requests_total", **PING) == before + made
        scrapes = value(samples, "librarian_http_requests_total", **SCRAPE)
        if last is not None:
            assert scrapes == last + 1
        last = scrapes
    processes = per_process(alpha)
    workers = [p for p in processes.values() if value(p, "librarian_http_requests_total", **PING)]
    assert len(workers) == 2
    assert sum(value(p, "librarian_http_requests_total", **PING) for p in workers) == before + made
    background = [
        p for p in processes.values() if value(p, "librarian_task_runs_total", task="send_clone")
    ]
    assert len(background) == 1 and background[0] not in workers
    assert value(background[0], "librarian_transfers_total", peer="beta", outcome="sent") == len(
        names
    )
