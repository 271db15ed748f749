"""Release planning at scale: a store of N copies (default 1,000,000) on PostgreSQL, each
file held at two or three other sites, and a delete policy judged over all of it.

Seeds a throw-away database with bulk SQL (``INSERT ... SELECT generate_series``: files,
one instance each, their remote copies), then times the planning of one page of
candidates (oldest first, and from a cursor half way), a whole pass over the store
page by page, and shows that the walk uses the store-and-age index. Proofs come from a
stand-in prover that says yes at once: what is timed is the catalogue's side.
Run: ``python -m bench.release_planning [--rows N] [--page 1000]``. PostgreSQL is the
server at LIBRARIAN_TEST_POSTGRES (default postgresql://postgres@127.0.0.1:5432); the
database is created and dropped.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text

from bench.common import Row, postgres_database, table, workspace
from librarian_server import migrate
from librarian_server.db import make_engine, make_session_factory
from librarian_server.orm import Store, utcnow
from librarian_server.services.catalogue.stores import add_store, get_store
from librarian_server.services.integrity.policies import set_policy
from librarian_server.services.integrity.release_plan import (
    candidates,
    judge_proofs,
    names_by_site,
)
from librarian_server.services.integrity.sources import Proof
from librarian_server.settings import load_settings

START = datetime(2024, 1, 1, tzinfo=UTC)
PAGE_TARGET_MS = 100.0
PASS_TARGET_S = 120.0

SEED = [
    """INSERT INTO files (name, size, checksum, uploader, source, created_time)
       SELECT 'obs/' || lpad((i / 1000)::text, 5, '0') || '/f' || lpad((i % 1000)::text, 3, '0')
              || '.dat', 1000 + i % 100000, 'md5:' || md5(i::text), 'pipeline', 'bench',
              :start + i * interval '1 second'
       FROM generate_series(0, :rows - 1) AS i""",
    """INSERT INTO instances (file_name, store_id, path, available, created_time)
       SELECT name, :store, 'p/' || md5(name), true, created_time FROM files""",
    """INSERT INTO remote_instances (file_name, site, copy_time)
       SELECT name, 'beta', created_time FROM files""",
    """INSERT INTO remote_instances (file_name, site, copy_time)
       SELECT name, site, created_time FROM files,
              (VALUES ('gamma'), ('delta')) AS s(site)
       WHERE (hashtext(name || site) & 1) = 0""",
]


class YesProver:
    """Every site proves every copy at once: only the catalogue's work is timed."""

    def prove(self, names_by_site: Mapping[str, Sequence[str]]) -> dict[tuple[str, str], Proof]:
        now = utcnow()
        return {
            (site, name): Proof(site, name, True, now)
            for site, names in names_by_site.items()
            for name in names
        }


def _check(ms: float, target: float, unit: str = "ms") -> tuple[str, str]:
    return f"< {target:.0f} {unit}", "PASS" if ms < target else "MISS"


def measure(data_dir: Path, url: str, rows: int, page: int) -> list[Row]:
    settings = load_settings(data_dir=data_dir, database_url=url, write_client_config=False)
    migrate.upgrade(settings)
    engine = make_engine(settings)
    factory = make_session_factory(engine)
    out: list[Row] = []
    with factory.begin() as session:
        store = add_store(session, "fast", data_dir / "fast", make_buckets=False)
        store_id = store.id
    started = time.perf_counter()
    with factory.begin() as session:
        for statement in SEED:
            session.execute(text(statement), {"rows": rows, "start": START, "store": store_id})
        session.execute(text("UPDATE stores SET used_bytes = 0"))
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
    seeded = time.perf_counter() - started
    out.append((f"seed {rows:,} files, instances, remote copies", f"{seeded:.1f} s", "", ""))
    with factory.begin() as session:
        policy = set_policy(
            session, "fast", after_days=30, min_copies=2, proof_age_days=7, allow_remote_only=True
        )
    prover = YesProver()

    def one_page(after: tuple[datetime, int] | None) -> tuple[float, list[object], int]:
        begun = time.perf_counter()
        with factory() as session:
            store = get_store(session, "fast")
            found = candidates(session, store, policy, site_name="alpha", after=after, limit=page)
        judge_proofs(found, prover.prove(names_by_site(found)), min_copies=2, proof_age_days=7)
        ms = (time.perf_counter() - begun) * 1000
        return ms, list(found), sum(c.releasable for c in found)

    first = [one_page(None) for _ in range(5)]
    ms = statistics.median(f[0] for f in first)
    out.append((f"plan first page ({page:,} copies)", f"{ms:.1f} ms", *_check(ms, PAGE_TARGET_MS)))
    middle = (START + timedelta(seconds=rows // 2), 0)
    ms = statistics.median(one_page(middle)[0] for _ in range(5))
    out.append(("plan a page from a cursor half way", f"{ms:.1f} ms", *_check(ms, PAGE_TARGET_MS)))

    begun, after, seen, releasable, pages = time.perf_counter(), None, 0, 0, 0
    while True:
        _, found, ok = one_page(after)
        seen, releasable, pages = seen + len(found), releasable + ok, pages + 1
        if len(found) < page:
            break
        last = found[-1]
        after = (last.created_time, last.instance_id)  # type: ignore[attr-defined]
    seconds = time.perf_counter() - begun
    out.append(
        (
            f"whole pass: {seen:,} copies, {pages:,} pages, {releasable:,} releasable",
            f"{seconds:.1f} s",
            *_check(seconds, PASS_TARGET_S, "s"),
        )
    )
    with factory() as session:
        fast = session.get_one(Store, store_id)
        query = text(
            "EXPLAIN SELECT id FROM instances WHERE store_id = :s AND created_time < :c "
            "AND (created_time, id) > (:t, 0) ORDER BY created_time, id LIMIT :n"
        )
        plan = "\n".join(
            r[0]
            for r in session.execute(
                query, {"s": fast.id, "c": utcnow(), "t": middle[0], "n": page}
            )
        )
    used = "ix_instances_store_age" in plan
    verdict = "PASS" if used else "MISS"
    out.append(("the walk uses ix_instances_store_age", "yes" if used else "no", "yes", verdict))
    engine.dispose()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--page", type=int, default=1000)
    args = parser.parse_args(argv)
    with workspace() as work, postgres_database() as url:
        rows = measure(work, url, args.rows, args.page)
    print(table(rows))
    return 0 if all(r[3] != "MISS" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
