"""How long the ``librarian`` CLI takes to start, against bare Python start-up.

Interleaved rounds of ``python -c pass`` (the baseline), ``librarian --help`` and
``librarian ping`` against a live server on loopback, so that a slow minute on a
shared machine slows all three alike; medians (min-max), what each adds to the
baseline, and the imports that cost most (``python -X importtime``, self time).
Run: ``python -m bench.cli_startup [--rounds 21] [--top 8]``.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence

from bench.common import BIN, live_server, table, workspace

TARGET_MS = 150.0
"""What a command may add to Python's own start-up."""


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_ms(command: Sequence[str], env: Mapping[str, str]) -> tuple[float, float]:
    """Wall time and CPU time (user + system) of one run, in ms.

    CPU time moves less than wall time when other work shares the machine.
    """
    cpu, start = _children_cpu(), time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
    return (time.perf_counter() - start) * 1000, (_children_cpu() - cpu) * 1000


def top_imports(words: Sequence[str], env: Mapping[str, str], top: int) -> list[tuple[int, str]]:
    """The ``top`` imports by self time (µs), from one ``-X importtime`` run of the CLI."""
    command = [sys.executable, "-X", "importtime", "-m", "librarian_client.cli", *words]
    done = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    entries = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, _, name = line.removeprefix("import time:").split("|")
        entries.append((int(self_us), name.strip()))
    return sorted(entries, reverse=True)[:top]


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):.0f} ms ({min(values):.0f}-{max(values):.0f})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=21, help="rounds; medians are reported")
    parser.add_argument("--top", type=int, default=8, help="imports listed per command")
    args = parser.parse_args(argv)

    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "librarian --help": [str(BIN / "librarian"), "--help"],
        "librarian ping": [str(BIN / "librarian"), "ping"],
    }
    times: dict[str, list[float]] = {label: [] for label in commands}
    cpu: dict[str, list[float]] = {label: [] for label in commands}
    with workspace() as work, live_server(work) as server:
        # Bytecode caches are written, as an installed package has them.
        env = {k: v for k, v in server.env.items() if k != "PYTHONDONTWRITEBYTECODE"}
        for command in commands.values():  # warm the page cache and the bytecode caches
            run_ms(command, env)
        for _ in range(args.rounds):
            for label, command in commands.items():
                wall, used = run_ms(command, env)
                times[label].append(wall)
                cpu[label].append(used)
        imports = {words: top_imports(words.split(), env, args.top) for words in ("--help", "ping")}

    base, base_cpu = (
        statistics.median(times["python -c pass"]),
        statistics.median(cpu["python -c pass"]),
    )
    baseline = ("python -c pass (baseline)", _spread(times["python -c pass"]), f"{base_cpu:.0f} ms")
    rows = [(*baseline, "")]
    for label in ("librarian --help", "librarian ping"):
        median, used = statistics.median(times[label]), statistics.median(cpu[label])
        added = median - base
        rows.append((label, _spread(times[label]), f"{used:.0f} ms", ""))
        rows.append(
            (
                "    over the baseline",
                f"+{added:.0f} ms ({median / base:.1f}x)",
                f"+{used - base_cpu:.0f} ms",
                "PASS" if added < TARGET_MS else "MISS",
            )
        )
    print(f"{args.rounds} interleaved rounds, {os.cpu_count()} CPUs; median (min-max) wall time,")
    print(f"median CPU time (user + system); target: wall time < baseline + {TARGET_MS:.0f} ms")
    print(table(rows, ("command", "wall time", "CPU time", "result")))
    for words, entries in imports.items():
        print(f"\nlibrarian {words}: the {len(entries)} costliest imports (self time)")
        for self_us, name in entries:
            print(f"  {self_us / 1000:6.1f} ms  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
