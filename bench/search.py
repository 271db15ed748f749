"""Search at scale: a catalogue of N files (default 1,000,000), each kind of query timed.

Run: ``python -m bench.search [--rows N] [--backend sqlite|postgres|both]``. PostgreSQL
is the server at LIBRARIAN_TEST_POSTGRES (default postgresql://postgres@127.0.0.1:5432);
a throw-away database is created and dropped.
"""

from __future__ import annotations

import argparse
import functools
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, text

from bench.common import Row, postgres_database, table, workspace
from librarian_client.models import SearchQuery
from librarian_server import migrate
from librarian_server.db import make_engine, make_session_factory
from librarian_server.orm import File
from librarian_server.services.catalogue.files import search
from librarian_server.settings import load_settings

START = datetime(2024, 1, 1, tzinfo=UTC)
TARGET_MS = 50.0


def _rows(n: int) -> Iterator[dict[str, object]]:
    rng = random.Random(42)  # noqa: S311 - reproducible data, not secrets
    for i in range(n):
        day, run = divmod(i // 1000, 20)
        yield {
            "name": f"obs/{(START + timedelta(days=day)).date()}/run{run:02d}/D_{i % 1000:04d}.g3",
            "size": rng.randrange(1, 10**9),
            "checksum": f"md5:{i:032x}",
            "uploader": f"pipeline{i % 5}",
            "source": "bench",
            "created_time": START + timedelta(seconds=30 * i),
        }


def _median_ms(run: Callable[[], object], times: int = 7) -> float:
    samples = []
    for _ in range(times):
        start = time.perf_counter()
        run()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def measure(backend: str, data_dir: Path, url: str | None, rows: int) -> list[Row]:
    settings = load_settings(data_dir=data_dir, database_url=url)
    migrate.upgrade(settings)
    engine = make_engine(settings)
    factory = make_session_factory(engine)
    started = time.perf_counter()
    batch: list[dict[str, object]] = []
    with factory.begin() as session:
        for row in _rows(rows):
            batch.append(row)
            if len(batch) == 20_000:
                session.execute(insert(File), batch)
                batch.clear()
        if batch:
            session.execute(insert(File), batch)
    with engine.connect() as conn:
        conn.execute(text("ANALYZE"))
        conn.commit()
    load_s = time.perf_counter() - started
    mid = START + timedelta(seconds=30 * rows // 2)
    day = (START + timedelta(days=rows // 40_000)).date()
    queries: dict[str, dict[str, object]] = {
        "prefix, one run (1,000 files)": {"prefix": f"obs/{day}/run07/"},
        "glob obs/<day>/run1?/*.g3, page": {"name": f"obs/{day}/run1?/*.g3"},
        "all files, first page of 1,000": {},
        "created in one hour": {"created_after": mid, "created_before": mid + timedelta(hours=1)},
        "size range, page": {"min_size": 10**8, "max_size": 10**8 + 10**6},
        "uploader + prefix": {"uploader": "pipeline3", "prefix": f"obs/{day}/"},
    }
    out: list[Row] = []
    with factory() as session:
        for label, filters in queries.items():
            query = SearchQuery.model_validate(filters)
            page = search(session, query)
            ms = _median_ms(functools.partial(search, session, query))
            out.append(
                (
                    f"{backend}: {label}",
                    f"{ms:.1f} ms ({len(page.files)} rows)",
                    f"< {TARGET_MS:.0f} ms",
                    "PASS" if ms < TARGET_MS else "MISS",
                )
            )
        cursor = search(session, SearchQuery()).next_cursor
        ms = _median_ms(lambda: search(session, SearchQuery(cursor=cursor)))
        out.append(
            (
                f"{backend}: next page by cursor",
                f"{ms:.1f} ms",
                f"< {TARGET_MS:.0f} ms",
                "PASS" if ms < TARGET_MS else "MISS",
            )
        )
    engine.dispose()
    out.insert(0, (f"{backend}: load {rows:,} files", f"{load_s:.1f} s", "", ""))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    args = parser.parse_args(argv)
    results: list[Row] = []
    with workspace() as work:
        if args.backend in ("sqlite", "both"):
            results += measure("sqlite", work / "sqlite", None, args.rows)
        if args.backend in ("postgres", "both"):
            with postgres_database() as url:
                results += measure("postgres", work / "pg", url, args.rows)
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
