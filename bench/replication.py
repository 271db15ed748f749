"""Replication benchmarks (issue: inter-site replication), printed as a table.

Two live sites on loopback, alpha pushing to beta over HTTP (local copy is
switched off, as between two machines):

(a) 1,000 x 4 KiB files plus one 1 GiB file replicated alpha -> beta, from the
    start of send_clone to every copy confirmed (read, streamed, hashed at both
    ends, fsynced and committed at beta, confirmed at alpha), against ``rsync -a``
    of the same files between two local directories in the same run;
(b) 1,000 x 4 KiB files from the start of their upload at alpha (the CLI) to
    every copy confirmed at beta, in files per second;
(c) peak RSS of both servers.

send_clone is started through the admin "run now" endpoint as soon as the upload
returns, so no cadence is waited for. Run: ``python -m bench.replication``.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

from bench.common import BIN, Server, live_server, make_file, table, timed, workspace


def _admin(server: Server) -> httpx.Client:
    return httpx.Client(base_url=server.url, auth=("admin", server.admin_password), timeout=3600)


def _link(alpha: Server, beta: Server, work: Path) -> None:
    password = work / "peer.password"
    password.write_text(secrets.token_urlsafe(16) + "\n")
    password.chmod(0o600)
    run = [str(BIN / "librarian-server")]
    subprocess.run(
        [*run, "create-user", "alpha", "--level", "peer", "--password-file", str(password),
         "--data-dir", str(beta.data_dir)],
        env=beta.env, check=True, capture_output=True,
    )  # fmt: skip
    subprocess.run(
        [*run, "add-peer", "beta", beta.url, "--username", "alpha", "--password-file",
         str(password), "--managers", "http", "--data-dir", str(alpha.data_dir)],
        env=alpha.env, check=True, capture_output=True,
    )  # fmt: skip


def _replicate(alpha: Server) -> float:
    """Run send_clone now; it returns once every batch it sent is confirmed."""
    with _admin(alpha) as http:
        start = time.perf_counter()
        result = http.post("/api/v2/tasks/send_clone/run").json()
        seconds = time.perf_counter() - start
        assert result["ok"], result
        pending = http.get("/api/v2/transfers", params={"status": "ONGOING", "limit": 10}).json()[
            "transfers"
        ]
        assert not pending, pending
    return seconds


def _confirmed(alpha: Server, prefix: str) -> int:
    with _admin(alpha) as http:
        rows = http.get("/api/v2/transfers", params={"status": "COMPLETED", "limit": 10000}).json()[
            "transfers"
        ]
    return sum(1 for r in rows if r["name"].startswith(prefix))


def _small_files(directory: Path, count: int, seed: int) -> None:
    directory.mkdir(parents=True)
    for i in range(count):
        (directory / f"f{i:05d}.dat").write_bytes((seed * 10**6 + i).to_bytes(4, "big") * 1024)


def _spread(values: list[float], unit: str, fmt: str = ".2f") -> str:
    low, mid, high = min(values), statistics.median(values), max(values)
    return f"{mid:{fmt}} {unit} ({low:{fmt}}-{high:{fmt}})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3, help="rounds; medians are reported")
    args = parser.parse_args(argv)

    replications: list[float] = []
    rsyncs: list[float] = []
    end_to_end: list[float] = []
    after_upload: list[float] = []
    quiet = {"LIBRARIAN_SERVER_OFFER_LOCAL_PATHS": "false"}
    with workspace() as work:
        (work / "a").mkdir()
        (work / "b").mkdir()
        with (
            live_server(
                work / "a",
                LIBRARIAN_SERVER_SITE_NAME="alpha",
                LIBRARIAN_SERVER_BACKGROUND__IN_SERVER="false",
                **quiet,
            ) as alpha,
            live_server(work / "b", LIBRARIAN_SERVER_SITE_NAME="beta", **quiet) as beta,
        ):
            _link(alpha, beta, work)
            for round_ in range(args.repeat):
                # (a): the data set is uploaded first, untimed, then replicated.
                source = work / f"set{round_}"
                _small_files(source / "small", args.files, round_)
                make_file(source / "big.dat", args.size_mib * 1024 * 1024)
                alpha.cli("upload", str(source), f"a{round_}/")
                os.sync()
                replications.append(_replicate(alpha))
                assert _confirmed(alpha, f"a{round_}/") == args.files + 1
                os.sync()
                copy = work / f"rsync{round_}"
                rsyncs.append(
                    timed(
                        subprocess.run,
                        ["rsync", "-a", f"{source}/", f"{copy}/"],
                    )
                )
                # (b): a fresh set of small files, timed from the start of the upload.
                small = work / f"b{round_}"
                _small_files(small, args.files, 100 + round_)
                os.sync()
                start = time.perf_counter()
                alpha.cli("upload", str(small), f"b{round_}/")
                uploaded = time.perf_counter()
                _replicate(alpha)
                done = time.perf_counter()
                assert _confirmed(alpha, f"b{round_}/") == args.files
                end_to_end.append(args.files / (done - start))
                after_upload.append(args.files / (done - uploaded))
            rss = (alpha.peak_rss_mb(), beta.peak_rss_mb())
    ratio = statistics.median(r / s for r, s in zip(replications, rsyncs, strict=True))
    rate = statistics.median(end_to_end)
    verdict = "PASS" if ratio <= 2 else "MISS"
    rows = [
        (f"(a) {args.files} x 4 KiB + {args.size_mib} MiB, alpha -> beta",
         _spread(replications, "s"), "", ""),
        ("    rsync -a of the same files", _spread(rsyncs, "s"), "", ""),
        ("    ratio replication / rsync", f"{ratio:.2f}x", "<= 2x", verdict),
        (
            f"(b) {args.files} x 4 KiB, upload at alpha -> confirmed at beta",
            _spread(end_to_end, "files/s", ".0f"),
            ">= 500 files/s",
            "PASS" if rate >= 500 else "MISS",
        ),
        ("    of which replication alone", _spread(after_upload, "files/s", ".0f"), "", ""),
        ("(c) peak RSS alpha / beta", f"{rss[0]:.0f} / {rss[1]:.0f} MB", "", ""),
    ]  # fmt: skip
    print(f"{args.repeat} rounds; median (min-max); HTTP over loopback")
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
