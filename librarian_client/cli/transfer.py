"""``librarian upload`` and ``librarian download``."""

from __future__ import annotations

import errno
import os
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from librarian_client._download import (
    Action,
    Planned,
    classify,
    conflicts_error,
    fetch_all,
    safe_relative,
)
from librarian_client.checksum import checksum_file, normalise_checksum, parse_checksum
from librarian_client.cli.catalogue import file_summary
from librarian_client.cli.context import CLIError, Context
from librarian_client.cli.output import (
    format_row,
    format_size,
    print_json,
)
from librarian_client.client import LibrarianClient
from librarian_client.exceptions import NotFound
from librarian_client.models import FileInfo


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


MiB = 1 << 20


def rate(nbytes: int, seconds: float) -> str:
    """MiB/s, the unit the progress bars and sizes use too."""
    return f"{nbytes / max(seconds, 1e-6) / MiB:.1f} MiB/s"


def _plural(n: int, what: str = "file") -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"


def plan_upload(client: LibrarianClient, files: list[LocalFile]) -> list[dict[str, object]]:
    """What ``upload`` would do with each file, from one listing; stages nothing."""
    on_server = {}
    wanted = {f.name for f in files}
    prefix = os.path.commonprefix(sorted(wanted))  # noqa: RUF071 - names: a string prefix is meant
    for summary in client.search(prefix=prefix or None):
        if summary.name in wanted:
            on_server[summary.name] = summary
    plans: list[dict[str, object]] = []
    for f in files:
        there = on_server.get(f.name)
        action, why = "upload", ""
        if there is not None:
            same = there.size == f.size and checksum_file(
                f.path, parse_checksum(there.checksum)[0]
            ) == normalise_checksum(there.checksum)
            action = "skip" if same else "conflict"
            why = "already there, same contents" if same else "exists with different contents"
        plans.append(
            {"action": action, "local": f.path, "name": f.name, "size": f.size, "why": why}
        )
    return plans


def _dry_run_upload(ctx: Context, client: LibrarianClient, files: list[LocalFile]) -> int:
    plans = plan_upload(client, files)
    conflicts = [p for p in plans if p["action"] == "conflict"]
    if ctx.json:
        print_json(plans)
    else:
        for p in plans:
            why = f" ({p['why']})" if p["why"] else ""
            print(format_row((f"would {p['action']}", f"{p['local']} -> {p['name']}{why}"), (14,)))
        todo = [p for p in plans if p["action"] == "upload"]
        size = sum(int(str(p["size"])) for p in todo)
        print(f"dry run: would upload {_plural(len(todo))} ({format_size(size)}), "
              f"skip {len(plans) - len(todo) - len(conflicts)}; nothing was changed")  # fmt: skip
    if conflicts:
        raise CLIError(
            f"{_plural(len(conflicts))} already exist with different contents "
            f"(e.g. {conflicts[0]['name']}); the upload would fail.",
            "Files are immutable: upload under new names.",
        )
    return 0


def cmd_upload(ctx: Context) -> int:
    files = collect_files(ctx.args.src, ctx.args.dest, ctx.warn)
    total = sum(f.size for f in files)
    with ctx.client() as client:
        if ctx.args.dry_run:
            return _dry_run_upload(ctx, client, files)
        with ctx.progress(total, len(files), "upload") as bar:
            started = time.monotonic()
            results = client.upload_many(
                [(f.path, f.name) for f in files], progress=bar, transfers=ctx.args.transfers
            )
            elapsed = time.monotonic() - started
    if ctx.json:
        print_json([result.model_dump(mode="json") for result in results])
        return 0
    new = [r for r in results if not r.already_present]
    sent = sum(r.size for r in new)
    parts = [f"uploaded {_plural(len(new))}"]
    if new:
        parts[0] += f", {format_size(sent)} in {elapsed:.2f} s ({rate(sent, elapsed)})"
    present = len(results) - len(new)
    if present:
        parts.append(f"{present} already present, skipped")
    print("; ".join(parts))
    return 0


def _tree_or_file(client: LibrarianClient, name: str) -> str | FileInfo:
    """The prefix to download as a tree, or the one file ``name`` names."""
    if name == "" or name.endswith("/"):
        return name
    try:
        return client.info(name)
    except NotFound:
        if next(iter(client.listdir(name + "/", page_size=1)), None) is not None:
            return name + "/"
        raise


def cmd_download(ctx: Context) -> int:
    name, local = ctx.args.name, ctx.args.local
    with ctx.client() as client:
        found = _tree_or_file(client, name)
        if isinstance(found, str):
            return _download_tree(ctx, client, found, Path(local))
        info = found
        target = Path(local)
        if target.is_dir():
            target = target / safe_relative(name, name.rsplit("/", 1)[-1])[0]
        summary = file_summary(info)
        plan = classify(summary, target, force=ctx.args.force)
        if ctx.args.dry_run or plan.action in (Action.SKIP, Action.CONFLICT):
            return _report_plan(ctx, [plan], dry_run=ctx.args.dry_run)
        if not target.parent.is_dir():
            raise FileNotFoundError(errno.ENOENT, "No such directory", str(target.parent))
        with ctx.progress(info.size, 1, "download") as bar:
            started = time.monotonic()
            client.fetch(name, target, info.size, info.checksum, bar)
            elapsed = time.monotonic() - started
    if ctx.json:
        print_json(info.model_dump(mode="json"))
    else:
        print(
            f"downloaded {name} to {target}: {format_size(info.size)} in {elapsed:.2f} s "
            f"({rate(info.size, elapsed)}), {info.checksum} verified"
        )
    return 0


def _report_plan(ctx: Context, planned: list[Planned], *, dry_run: bool) -> int:
    """Print a plan (a dry run, or a single file that needs no fetching)."""
    conflicts = [p for p in planned if p.action is Action.CONFLICT]
    if ctx.json:
        print_json([_plan_json(p) for p in planned])
    else:
        for p in planned:
            if dry_run or p.action is Action.SKIP:
                verb = f"would {p.action.value}" if dry_run else "skipped"
                why = f" ({p.path} {p.why})" if p.why else ""
                print(format_row((verb, f"{p.name} -> {p.path}{why}"), (16,)))
        if dry_run:
            todo = [p for p in planned if p.action in (Action.DOWNLOAD, Action.OVERWRITE)]
            size = format_size(sum(p.size for p in todo))
            print(f"dry run: would download {_plural(len(todo))} ({size}); nothing was changed")
    if conflicts:
        raise conflicts_error(conflicts)
    return 0


def _plan_json(p: Planned) -> dict[str, object]:
    return {"name": p.name, "path": str(p.path), "size": p.size, "checksum": p.checksum,
            "action": p.action.value, "why": p.why}  # fmt: skip


def _download_tree(ctx: Context, client: LibrarianClient, prefix: str, root: Path) -> int:
    if root.exists() and not root.is_dir():
        raise CLIError(f"{root} is not a directory.", "Give a directory to download into.")
    planned = client.plan_download(prefix, root, force=ctx.args.force)
    if not planned:
        raise CLIError(f"There are no files under {prefix!r}.", "`librarian ls` shows names.")
    if ctx.args.dry_run:
        return _report_plan(ctx, planned, dry_run=True)
    conflicts = [p for p in planned if p.action is Action.CONFLICT]
    if conflicts:
        raise conflicts_error(conflicts)
    wanted = [p for p in planned if p.action in (Action.DOWNLOAD, Action.OVERWRITE)]
    total = sum(p.size for p in planned)
    with ctx.progress(total, len(planned), "download") as bar:
        for p in planned:
            if p.action is Action.SKIP:
                bar(p.size, 1)
        started = time.monotonic()
        for _ in fetch_all(client.fetch, wanted, bar, ctx.args.transfers):
            pass
        elapsed = time.monotonic() - started
    if ctx.json:
        print_json([_plan_json(p) for p in planned])
        return 0
    sent = sum(p.size for p in wanted)
    line = f"downloaded {_plural(len(wanted))} to {root}"
    if wanted:
        line += f", {format_size(sent)} in {elapsed:.2f} s ({rate(sent, elapsed)}), each verified"
    skipped = len(planned) - len(wanted)
    if skipped:
        line += f"; {skipped} already there and verified, skipped"
    print(line)
    return 0
