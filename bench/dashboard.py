"""The dashboard on a big catalogue: every page timed against the server's own ping.

Run: ``python -m bench.dashboard [--files N] [--rounds R] [--backend sqlite|postgres|both]``
(default 1,000,000 files, PostgreSQL). The catalogue is written in bulk (files, copies
and their ``file.committed`` events, as uploads leave them), the ``tally`` work that
keeps the overview's totals is timed on it, then a live server answers each page
``rounds`` times, interleaved with ``/api/v2/ping`` so the ratio shows what a page costs
beyond a request. Target: every page, and a Prometheus scrape of ``/metrics``, under 200 ms (p95).
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import func, insert, select, text

from bench.common import Row, live_server, postgres_database, table, workspace
from librarian_server import migrate
from librarian_server.db import make_engine, make_session_factory
from librarian_server.orm import Event, File, Instance, Store
from librarian_server.services.site import stats
from librarian_server.services.site.maintenance import ensure_default_store
from librarian_server.settings import load_settings

TARGET_MS = 200.0
START = datetime(2025, 1, 1, tzinfo=UTC)
PAGES = [
    "/ui/",
    "/ui/stores",
    "/ui/peers",
    "/ui/transfers",
    "/ui/tasks",
    "/ui/errors",
    "/metrics",  # a Prometheus scrape reads the same catalogue
]


Rows = list[dict[str, object]]


def _batches(n: int, store_id: int, size: int = 20_000) -> Iterator[tuple[Rows, Rows, Rows]]:
    for lo in range(0, n, size):
        files: Rows = []
        copies: Rows = []
        events: Rows = []
        for i in range(lo, min(n, lo + size)):
            name = f"obs/{(START + timedelta(days=i // 20_000)).date()}/f{i:08d}.dat"
            when = START + timedelta(seconds=4 * i)
            files.append(
                {
                    "name": name,
                    "size": 1_000 + i % 10_000,
                    "checksum": f"md5:{i:032x}",
                    "uploader": "bench",
                    "source": "bench",
                    "created_time": when,
                }
            )
            copies.append(
                {
                    "file_name": name,
                    "store_id": store_id,
                    "path": name,
                    "available": True,
                    "created_time": when,
                    "verified_time": when,
                }
            )
            events.append(
                {
                    "time": when,
                    "kind": "file.committed",
                    "actor": "bench",
                    "subject": name,
                    "detail": {"size": 1_000 + i % 10_000},
                }
            )
        yield files, copies, events


def build(data_dir: Path, url: str | None, files: int) -> tuple[list[Row], str]:
    settings = load_settings(data_dir=data_dir, database_url=url, write_client_config=False)
    migrate.upgrade(settings)
    engine = make_engine(settings)
    factory = make_session_factory(engine)
    with factory.begin() as session:
        ensure_default_store(session, settings)
        store_id = session.scalar(select(func.min(Store.id)))
    started = time.perf_counter()
    last = ""
    assert store_id is not None
    for batch_files, batch_copies, batch_events in _batches(files, store_id):
        with factory.begin() as session:
            session.execute(insert(File), batch_files)
            session.execute(insert(Instance), batch_copies)
            session.execute(insert(Event), batch_events)
        last = str(batch_files[-1]["name"])
    load_s = time.perf_counter() - started
    with engine.connect() as conn:
        conn.execute(text("ANALYZE"))
        conn.commit()
    started = time.perf_counter()
    folded = 0
    while True:
        with factory.begin() as session:
            n = stats.tally(session, limit=10_000)
        folded += n
        if n < 10_000:
            break
    tally_s = time.perf_counter() - started
    started = time.perf_counter()
    with factory.begin() as session:
        stats.refresh_store_counts(session, audit_period=timedelta(days=30), max_age_seconds=0)
    count_s = time.perf_counter() - started
    engine.dispose()
    return [
        (f"load {files:,} files (files, copies, events)", f"{load_s:.1f} s", "", ""),
        ("tally: fold the commit events", f"{folded / tally_s:,.0f} events/s", "", ""),
        ("store snapshot: count copies (background)", f"{count_s * 1000:.0f} ms", "", ""),
    ], last


def _login(http: httpx.Client, password: str) -> None:
    page = http.get("/ui/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    form = {"username": "admin", "password": password}
    if token:
        form["csrf"] = token.group(1)
    answer = http.post("/ui/login", data=form, follow_redirects=False)
    if answer.status_code not in (302, 303):
        raise RuntimeError(f"login failed: {answer.status_code} {answer.text[:200]}")


def _p(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(label: str, work: Path, url: str | None, files: int, rounds: int) -> list[Row]:
    data = work / "server"
    rows, last = build(data, url, files)
    env = {"LIBRARIAN_SERVER_BACKGROUND__IN_SERVER": "false"}
    if url:
        env["LIBRARIAN_SERVER_DATABASE_URL"] = url
    pages = [*PAGES, f"/ui/files/{last}"]
    with live_server(work, **env) as server, httpx.Client(base_url=server.url, timeout=60) as http:
        _login(http, server.admin_password)
        samples: dict[str, list[float]] = {p: [] for p in ["/api/v2/ping", *pages]}
        for path in samples:  # warm every page once
            http.get(path).raise_for_status()
        for _ in range(rounds):
            for path in samples:
                begin = time.perf_counter()
                http.get(path).raise_for_status()
                samples[path].append((time.perf_counter() - begin) * 1000)
    ping = statistics.median(samples["/api/v2/ping"])
    out = [(f"{label}: {r[0]}", *r[1:]) for r in rows]
    out.append((f"{label}: GET /api/v2/ping (baseline)", f"p50 {ping:.1f} ms", "", ""))
    for path in pages:
        p50, p95 = statistics.median(samples[path]), _p(samples[path], 0.95)
        shown = "/ui/files/<one of them>" if path.startswith("/ui/files/") else path
        out.append(
            (
                f"{label}: GET {shown}",
                f"p50 {p50:.1f} ms, p95 {p95:.1f} ms ({p50 / ping:.1f}x ping)",
                f"p95 < {TARGET_MS:.0f} ms",
                "PASS" if p95 < TARGET_MS else "MISS",
            )
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="postgres")
    args = parser.parse_args(argv)
    results: list[Row] = []
    if args.backend in ("sqlite", "both"):
        with workspace() as work:
            results += measure("sqlite", work, None, args.files, args.rounds)
    if args.backend in ("postgres", "both"):
        with workspace() as work, postgres_database() as url:
            results += measure("postgres", work, url, args.files, args.rounds)
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
