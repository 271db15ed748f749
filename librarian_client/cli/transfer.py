"""``librarian upload`` and ``librarian download``."""

from __future__ import annotations

import argparse
import os
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .context import CLIError, Context
from .output import format_size, print_json


@dataclass(frozen=True, slots=True)
class LocalFile:
    path: str
    name: str
    size: int


def _join(prefix: str, relative: str) -> str:
    base = prefix.rstrip("/")
    return f"{base}/{relative}" if base else relative


def _raise(error: OSError) -> None:
    raise error  # os.walk would otherwise skip unreadable directories silently


def collect_files(src: str, dest: str, warn: Callable[[str], None]) -> list[LocalFile]:
    """What ``upload SRC DEST`` sends, in a stable (sorted) order.

    A file goes to DEST, or DEST/basename when DEST ends with '/'. A directory
    sends every regular file below it as DEST/relative/path; symlinks to files
    are followed, symlinks to directories are not (no cycles).
    """
    info = os.stat(src)
    if not stat.S_ISDIR(info.st_mode):
        if not stat.S_ISREG(info.st_mode):
            raise CLIError(f"{src} is not a regular file or a directory.")
        name = _join(dest, Path(src).name) if dest.endswith("/") else dest
        return [LocalFile(src, name, info.st_size)]
    found: list[LocalFile] = []
    for root, dirs, names in os.walk(src, onerror=_raise):
        dirs.sort()
        for entry in sorted(names):
            path = os.path.join(root, entry)
            try:
                entry_info = os.stat(path)
            except FileNotFoundError:
                entry_info = None
            if entry_info is None or not stat.S_ISREG(entry_info.st_mode):
                warn(f"skipping {path}: not a regular file")
                continue
            relative = Path(os.path.relpath(path, src)).as_posix()
            found.append(LocalFile(path, _join(dest, relative), entry_info.st_size))
    if not found:
        raise CLIError(f"There are no files under {src}.", "Nothing was uploaded.")
    return found


def _rate(nbytes: int, seconds: float) -> str:
    return f"{nbytes / max(seconds, 1e-6) / 1e6:.1f} MB/s"


def cmd_upload(ctx: Context) -> int:
    files = collect_files(ctx.args.src, ctx.args.dest, ctx.warn)
    total = sum(f.size for f in files)
    with ctx.client() as client, ctx.progress(total, len(files), "upload") as bar:
        started = time.monotonic()
        results = client.upload_many([(f.path, f.name) for f in files], progress=bar)
        elapsed = time.monotonic() - started
    if ctx.json:
        print_json([result.model_dump(mode="json") for result in results])
        return 0
    new = [r for r in results if not r.already_present]
    sent = sum(r.size for r in new)
    parts = [f"uploaded {len(new)} file{'' if len(new) == 1 else 's'}"]
    if new:
        parts[0] += f", {format_size(sent)} in {elapsed:.2f} s ({_rate(sent, elapsed)})"
    present = len(results) - len(new)
    if present:
        parts.append(f"{present} already present, skipped")
    print("; ".join(parts))
    return 0


def cmd_download(ctx: Context) -> int:
    name, local = ctx.args.name, ctx.args.local
    with ctx.client() as client:
        expected = client.info(name)  # for the progress bar's total
        with ctx.progress(expected.size, 1, "download") as bar:
            started = time.monotonic()
            info = client.download(name, local, progress=bar)
            elapsed = time.monotonic() - started
    if ctx.json:
        print_json(info.model_dump(mode="json"))
    else:
        print(
            f"downloaded {name} to {local}: {format_size(info.size)} in {elapsed:.2f} s "
            f"({_rate(info.size, elapsed)}), {info.checksum} verified"
        )
    return 0


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    up = sub.add_parser(
        "upload",
        parents=[common],
        help="upload a file or a directory tree",
        description="Upload SRC as DEST. A directory uploads every file below it as "
        "DEST/relative/path. Files already there with the same contents are skipped.",
    )
    up.add_argument("src", metavar="SRC", help="local file or directory")
    up.add_argument(
        "dest", metavar="DEST", help="name in the librarian ('DIR/' appends the basename)"
    )
    up.set_defaults(func=cmd_upload)

    down = sub.add_parser(
        "download",
        parents=[common],
        help="download a file, verifying its checksum",
        description="Download NAME to LOCAL (a path, or an existing directory). The file "
        "appears only once its size and checksum verify.",
    )
    down.add_argument("name", metavar="NAME")
    down.add_argument("local", metavar="LOCAL")
    down.set_defaults(func=cmd_download)
