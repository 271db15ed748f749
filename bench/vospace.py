"""VOSpace listings at scale: a container of 100,000 children, paged and streamed.

Run: ``python -m bench.vospace [--children N] [--backend sqlite|postgres|both]``.
Measures, through the service's own listing and XML rendering (no HTTP):

- one page of 1,000 children (``limit=1000``) at the start, the middle (``uri=``) and
  the end of the container (target < 50 ms on PostgreSQL);
- the same for a container whose 1,000 children are containers of 100 files each,
  where every child is found by an index seek past its subtree;
- the streamed listing of every child (no ``limit``: what the ``vos`` client asks for),
  its time and its peak Python memory, next to a container 10x smaller, to show that
  memory does not grow with the number of children.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, text
from sqlalchemy.orm import Session, sessionmaker

from bench.common import Row, postgres_database, table, workspace
from librarian_server import migrate
from librarian_server.db import make_engine, make_session_factory
from librarian_server.orm import File
from librarian_server.services.vospace import listing, nodes
from librarian_server.services.vospace.uris import NodeURIs
from librarian_server.settings import ServerSettings, load_settings
from librarian_server.vospace import render

TARGET_MS = 50.0
PAGE = 1000
URIS = NodeURIs("ivo://example.org/vospace")
START = datetime(2026, 1, 1, tzinfo=UTC)


def _load(factory: sessionmaker[Session], names: list[str]) -> None:
    with factory.begin() as session:
        for start in range(0, len(names), 20_000):
            session.execute(
                insert(File),
                [
                    {
                        "name": name,
                        "size": 1000 + i,
                        "checksum": f"md5:{i:032x}",
                        "uploader": "bench",
                        "source": "bench",
                        "created_time": START + timedelta(seconds=i),
                    }
                    for i, name in enumerate(names[start : start + 20_000], start)
                ],
            )


def _page(factory: sessionmaker[Session], path: str, start_child: str | None) -> int:
    """Resolve the container and render one page, as GET /nodes/{path}?limit=1000 does."""
    with factory() as session:
        node = nodes.get(session, path, URIS)
        view = nodes.view(session, node)
        start = listing.start_key(session, start_child) if start_child else None
    kids = listing.children(lambda: factory(), path, start=start, limit=PAGE)
    return sum(len(part) for part in render.node(URIS, view, "max", kids))


def _stream(factory: sessionmaker[Session], path: str) -> int:
    with factory() as session:
        view = nodes.view(session, nodes.get(session, path, URIS))
    kids = listing.children(lambda: factory(), path)
    return sum(len(part) for part in render.node(URIS, view, "max", kids))


def _median_ms(run: Callable[[], object], times: int = 7) -> float:
    samples = []
    for _ in range(times):
        began = time.perf_counter()
        run()
        samples.append((time.perf_counter() - began) * 1000)
    return statistics.median(samples)


def _row(label: str, ms: float) -> tuple[str, str, str, str]:
    verdict = "PASS" if ms < TARGET_MS else "MISS"
    return (label, f"{ms:.1f} ms", f"< {TARGET_MS:.0f} ms", verdict)


def measure(backend: str, data_dir: Path, url: str | None, n: int) -> list[Row]:
    settings = migrate_settings(data_dir, url)
    engine = make_engine(settings)
    factory = make_session_factory(engine)
    began = time.perf_counter()
    flat = [f"flat/f{i:07d}.fits" for i in range(n)]
    deep = [f"deep/c{c:04d}/f{i:03d}.fits" for c in range(PAGE) for i in range(n // PAGE)]
    small = [f"small/f{i:07d}.fits" for i in range(n // 10)]
    _load(factory, flat + deep + small)
    with engine.connect() as conn:
        conn.execute(text("ANALYZE"))
        conn.commit()
    rows: list[Row] = [
        (
            f"{backend}: load {len(flat) + len(deep) + len(small):,} files",
            f"{time.perf_counter() - began:.1f} s",
            "",
            "",
        )
    ]
    for label, start in (("first", None), ("middle", flat[n // 2]), ("end, 500", flat[-PAGE // 2])):
        rows.append(
            _row(
                f"{backend}: page of {PAGE:,} of {n:,}, {label}",
                _median_ms(functools.partial(_page, factory, "flat", start)),
            )
        )
    middle = f"deep/c{PAGE // 2:04d}"
    rows.append(
        _row(
            f"{backend}: page of {PAGE:,} containers (seek each)",
            _median_ms(lambda: _page(factory, "deep", None)),
        )
    )
    rows.append(
        _row(
            f"{backend}: same, from the middle", _median_ms(lambda: _page(factory, "deep", middle))
        )
    )
    for path, count in (("small", n // 10), ("flat", n)):
        began = time.perf_counter()
        size = _stream(factory, path)
        seconds = time.perf_counter() - began
        tracemalloc.start()
        _stream(factory, path)
        peak = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()
        rows.append(
            (
                f"{backend}: stream all {count:,} children",
                f"{seconds:.2f} s, {size / 1e6:.0f} MB XML, peak {peak:.1f} MB",
                "constant memory",
                "",
            )
        )
    engine.dispose()
    return rows


def migrate_settings(data_dir: Path, url: str | None) -> ServerSettings:

    settings = load_settings(data_dir=data_dir, database_url=url, write_client_config=False)
    migrate.upgrade(settings)
    return settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--children", type=int, default=100_000)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    args = parser.parse_args(argv)
    results: list[Row] = []
    with workspace() as work:
        if args.backend in ("sqlite", "both"):
            results += measure("sqlite", work / "sqlite", None, args.children)
        if args.backend in ("postgres", "both"):
            with postgres_database() as url:
                results += measure("postgres", work / "pg", url, args.children)
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
