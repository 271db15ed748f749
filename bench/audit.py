"""Audit throughput: re-hashing every copy on a store, against ``md5sum`` of the same files.

Run: ``python -m bench.audit [--gib 10] [--files 40] [--rounds 3]``. The files are
written once into a store of a throw-away embedded site and catalogued; then each round
runs ``md5sum`` over them and an unthrottled audit pass over the store, in alternating
order, so both see the same page cache and the same neighbours on a shared machine.
The figure is the audit's rate as a share of ``md5sum``'s (target: at least 90%).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from bench.common import Row, make_file, table, workspace
from librarian_client.checksum import checksum_file
from librarian_server import migrate
from librarian_server.db import make_engine, make_session_factory
from librarian_server.orm import File, Instance, Store
from librarian_server.services.integrity.audit import AuditPolicy, audit_store
from librarian_server.services.site.maintenance import ensure_default_store
from librarian_server.settings import load_settings
from librarian_server.stores import backend_for

TARGET = 0.90
ALL_DUE = AuditPolicy(
    period=timedelta(0), walk_every=timedelta(days=365), dark_after=timedelta(days=1)
)


def _seed(factory: object, total: int, count: int) -> tuple[int, list[Path]]:
    from sqlalchemy.orm import Session, sessionmaker

    assert isinstance(factory, sessionmaker)
    session_factory: sessionmaker[Session] = factory
    size = total // count
    paths: list[Path] = []
    with session_factory.begin() as session:
        store = session.query(Store).order_by(Store.id).first()
        assert store is not None
        backend = backend_for(store)
        store_id = store.id
        for n in range(count):
            name = f"bench/audit/{n:04d}.dat"
            store_path = backend.path_for(name)
            path = backend.local_path(store_path)
            assert path is not None, "the audit benchmark runs on a POSIX store"
            path.parent.mkdir(parents=True, exist_ok=True)
            make_file(path, size)
            checksum = checksum_file(str(path))
            session.add(File(name=name, size=size, checksum=checksum, uploader="b", source="b"))
            session.flush()
            session.add(Instance(file_name=name, store_id=store_id, path=store_path))
            paths.append(path)
    return store_id, paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.audit", description=__doc__)
    parser.add_argument("--gib", type=float, default=10.0, help="total size of the files")
    parser.add_argument("--files", type=int, default=40, help="how many files")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    total = int(args.gib * (1 << 30))
    with workspace() as work:
        settings = load_settings(data_dir=work / "site", write_client_config=False)
        migrate.upgrade(settings)
        engine = make_engine(settings)
        factory = make_session_factory(engine)
        with factory.begin() as session:
            ensure_default_store(session, settings)
        print(f"writing and cataloguing {args.files} files, {args.gib:g} GiB ...", file=sys.stderr)
        store_id, paths = _seed(factory, total, args.files)
        nbytes = sum(p.stat().st_size for p in paths)
        md5_rates: list[float] = []
        audit_rates: list[float] = []
        for round_ in range(args.rounds):
            order = ("md5sum", "audit") if round_ % 2 == 0 else ("audit", "md5sum")
            for which in order:
                started = time.perf_counter()
                if which == "md5sum":
                    subprocess.run(
                        ["md5sum", *map(str, paths)], check=True, stdout=subprocess.DEVNULL
                    )
                    md5_rates.append(nbytes / (time.perf_counter() - started))
                else:
                    result = audit_store(
                        factory, store_id, ALL_DUE, deadline=time.monotonic() + 3600
                    )
                    assert result.rehashed == len(paths) and result.damaged == 0, result
                    audit_rates.append(nbytes / (time.perf_counter() - started))
            print(
                f"round {round_ + 1}: md5sum {md5_rates[-1] / 2**20:.0f} MiB/s, "
                f"audit {audit_rates[-1] / 2**20:.0f} MiB/s",
                file=sys.stderr,
            )
        engine.dispose()
    md5 = statistics.median(md5_rates)
    audit = statistics.median(audit_rates)
    ratio = statistics.median(a / m for a, m in zip(audit_rates, md5_rates, strict=True))
    rows: list[Row] = [
        ("md5sum of the files", f"{md5 / 2**20:.0f} MiB/s", "baseline", ""),
        ("audit pass, unthrottled", f"{audit / 2**20:.0f} MiB/s", "", ""),
        (
            "audit / md5sum (median of per-round ratios)",
            f"{ratio:.2f}",
            f">= {TARGET:.2f}",
            "PASS" if ratio >= TARGET else "MISS",
        ),
    ]
    print(f"{nbytes / 2**30:.1f} GiB in {len(paths)} files, {args.rounds} rounds")
    print(table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
