"""Upload benchmarks (issue: foundation), printed as a table.

(a) a 1 GiB file through the CLI over loopback HTTP vs ``cp`` + ``md5sum`` of it;
(b) 1,000 x 4 KiB files in one CLI call; (c) the server's peak RSS during (a);
(d) what authentication adds to a request (Basic, after the first, and bearer).
Run: ``python -m bench.upload [--size-mib 1024] [--files 1000]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from typing import Any

import httpx

from bench.common import live_server, make_file, table, timed, workspace


def _mean_ms(client: httpx.Client, n: int, **kwargs: Any) -> float:
    client.get("/api/v2/ping", **kwargs)  # warm-up (pays the KDF)
    start = time.perf_counter()
    for _ in range(n):
        client.get("/api/v2/ping", **kwargs).raise_for_status()
    return (time.perf_counter() - start) / n * 1000


def auth_overhead(url: str, password: str, n: int = 300) -> list[tuple[str, str, str, str]]:
    basic = ("admin", password)
    with httpx.Client(base_url=url, timeout=30) as client:
        token = client.post("/api/v2/tokens", json={}, auth=basic).json()["token"]
        anonymous = _mean_ms(client, n)
        with_basic = _mean_ms(client, n, auth=basic)
        bearer = _mean_ms(client, n, headers={"Authorization": f"Bearer {token}"})
    worst = max(with_basic, bearer) - anonymous
    return [
        ("(d) ping, anonymous", f"{anonymous:.2f} ms", "", ""),
        (
            "    ping, Basic / bearer",
            f"{with_basic:.2f} / {bearer:.2f} ms",
            "< +3 ms",
            "PASS" if worst < 3 else "MISS",
        ),
    ]


def _spread(values: list[float], unit: str, fmt: str = ".2f") -> str:
    low, mid, high = min(values), statistics.median(values), max(values)
    return f"{mid:{fmt}} {unit} ({low:{fmt}}-{high:{fmt}})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3, help="rounds; medians are reported")
    parser.add_argument(
        "--local-copy",
        action="store_true",
        help="let the client use the same-filesystem path (default: HTTP only)",
    )
    args = parser.parse_args(argv)

    uploads: list[float] = []
    baselines: list[float] = []
    rates: list[float] = []
    with workspace() as work:
        big = work / "big.g3"
        make_file(big, args.size_mib * 1024 * 1024)
        env = {} if args.local_copy else {"LIBRARIAN_SERVER_OFFER_LOCAL_PATHS": "false"}

        def cp_md5() -> None:
            subprocess.run(["cp", str(big), str(work / "copy.g3")], check=True)
            subprocess.run(["md5sum", str(work / "copy.g3")], check=True, capture_output=True)

        with live_server(work, **env) as server:
            for round_ in range(args.repeat):
                small = work / f"small{round_}"
                small.mkdir()
                for i in range(args.files):
                    (small / f"f{i:05d}.dat").write_bytes(
                        (round_ * 10**6 + i).to_bytes(4, "big") * 1024
                    )
                os.sync()  # no run is charged for flushing the set-up's own files
                baselines.append(timed(cp_md5))
                (work / "copy.g3").unlink()
                os.sync()
                uploads.append(timed(server.cli, "upload", str(big), f"bench/big{round_}.g3"))
                rates.append(
                    args.files / timed(server.cli, "upload", str(small), f"bench/s{round_}/")
                )
            rss = server.peak_rss_mb()
            auth_rows = auth_overhead(server.url, server.admin_password)
    ratio = statistics.median(u / b for u, b in zip(uploads, baselines, strict=True))
    rate = statistics.median(rates)
    rows = [
        (f"(a) {args.size_mib} MiB upload via CLI", _spread(uploads, "s"), "", ""),
        ("    cp + md5sum of the same file", _spread(baselines, "s"), "", ""),
        (
            "    ratio upload / (cp + md5sum)",
            f"{ratio:.2f}x",
            "<= 1.5x",
            "PASS" if ratio <= 1.5 else "MISS",
        ),
        (
            f"(b) {args.files} x 4 KiB in one CLI call",
            _spread(rates, "files/s", ".0f"),
            ">= 1000 files/s",
            "PASS" if rate >= 1000 else "MISS",
        ),
        (
            "(c) server peak RSS, all rounds",
            f"{rss:.0f} MB",
            "< 200 MB",
            "PASS" if rss < 200 else "MISS",
        ),
        *auth_rows,
    ]
    print(f"{args.repeat} rounds; median (min-max)")
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
