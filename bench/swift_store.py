"""A store on OpenStack Swift: upload and download through the Librarian against
Swift's own client, and a bundle of small files.

Starts a single-node Swift (``tests/swift.py``) and a live ``librarian-server`` whose
only ingest store is a bucket on it, then, interleaved over several rounds:
``librarian upload`` / ``librarian download`` of one large file against
``swift upload`` / ``swift download`` of the same file (python-swiftclient, Swift's
native API, no checksum of ours), and ``librarian upload DIR/`` of many small files
against ``swift upload`` of the same directory. Ratios are medians of per-round ratios.

    python -m bench.swift_store [--size-mib 1024] [--files 1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

from bench.common import live_server, make_file, table, timed, workspace
from tests.swift import SwiftNode


def sh(*command: str) -> None:
    subprocess.run(list(command), check=True, capture_output=True)


def _spread(values: list[float], unit: str) -> str:
    return f"{statistics.median(values):.2f} {unit} ({min(values):.2f}-{max(values):.2f})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    if shutil.which("swift") is None:
        print("the `swift` command is missing: apt-get install python3-swiftclient")
        return 1
    times: dict[str, list[float]] = {k: [] for k in ("lu", "su", "ld", "sd", "lb", "sb")}
    with workspace() as work, SwiftNode(work / "swift") as node:
        node.make_bucket("librarian")
        node.make_bucket("baseline")
        swift = [
            "swift", "-A", f"{node.endpoint}/auth/v1.0", "-U", node.access_key,
            "-K", node.secret_key,
        ]  # fmt: skip
        big = work / "big.dat"
        make_file(big, args.size_mib * 1024 * 1024)
        keys = node.write_credentials_file(work / "s3.credentials")
        with live_server(work, LIBRARIAN_SERVER_OFFER_LOCAL_PATHS="false") as server:
            admin = [str(Path(sys.executable).parent / "librarian-server")]
            data = ["--data-dir", str(server.data_dir)]
            subprocess.run(
                [*admin, "add-store", "swift", "--s3", f"{node.endpoint}/librarian",
                 "--credentials-file", str(keys), "--part-size", "64M", "--concurrency", "4",
                 *data],
                env=server.env, check=True, capture_output=True,
            )  # fmt: skip
            subprocess.run(
                [*admin, "store", "disable", "local", *data],
                env=server.env,
                check=True,
                capture_output=True,
            )
            for n in range(args.repeat):
                small = work / f"small{n}"
                small.mkdir()
                for i in range(args.files):
                    (small / f"f{i:05d}.dat").write_bytes((n * 10**6 + i).to_bytes(4, "big") * 1024)
                out = work / f"out{n}"
                out.mkdir()
                times["su"].append(
                    timed(sh, *swift, "upload", "baseline", str(big), "--object-name", f"big{n}")
                )
                times["lu"].append(timed(server.cli, "upload", str(big), f"bench/big{n}.dat"))
                times["sd"].append(
                    timed(sh, *swift, "download", "baseline", f"big{n}", "-o", str(out / "s.dat"))
                )
                times["ld"].append(
                    timed(server.cli, "download", f"bench/big{n}.dat", str(out / "lib.dat"))
                )
                times["sb"].append(
                    timed(sh, *swift, "upload", "baseline", str(small), "--object-name", f"s{n}")
                )
                times["lb"].append(timed(server.cli, "upload", str(small), f"bench/s{n}/"))
                shutil.rmtree(out)
            rss = server.peak_rss_mb()
            placed = subprocess.run(
                [*admin, "stores", "--json", *data], env=server.env, capture_output=True, text=True
            ).stdout

    def ratio(ours: str, theirs: str) -> float:
        return statistics.median(a / b for a, b in zip(times[ours], times[theirs], strict=True))

    size = f"{args.size_mib} MiB"
    rows = [
        (f"upload {size}: librarian", _spread(times["lu"], "s"), "", ""),
        (f"upload {size}: swift upload", _spread(times["su"], "s"), "", ""),
        ("  ratio", f"{ratio('lu', 'su'):.2f}x", "", ""),
        (f"download {size}: librarian", _spread(times["ld"], "s"), "", ""),
        (f"download {size}: swift download", _spread(times["sd"], "s"), "", ""),
        ("  ratio", f"{ratio('ld', 'sd'):.2f}x", "", ""),
        (f"{args.files} x 4 KiB: librarian (bundles)", _spread(times["lb"], "s"), "", ""),
        (f"{args.files} x 4 KiB: swift upload", _spread(times["sb"], "s"), "", ""),
        ("  ratio", f"{ratio('lb', 'sb'):.2f}x", "", ""),
        ("server peak RSS", f"{rss:.0f} MB", "constant in file size", ""),
    ]
    print(f"{args.repeat} rounds, interleaved; median (min-max)")
    print(table(rows, head=("benchmark", "measured", "note", "")))
    if '"swift"' not in placed:
        print("warning: the bucket store was not listed", placed[:200])
    return 0


if __name__ == "__main__":
    sys.exit(main())
