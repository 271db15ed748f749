"""``librarian ls``, ``search``, ``info`` and ``stores``: reading the catalogue."""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterator
from typing import TypeVar

from librarian_client.cli.context import Context
from librarian_client.cli.output import (
    SIZE_WIDTH,
    file_row,
    format_row,
    format_size,
    format_time,
    print_json,
    print_json_array,
    print_table,
    short_checksum,
)
from librarian_client.exceptions import NotFound
from librarian_client.models import FileInfo, FileSummary

SUMMARY_FIELDS = set(FileSummary.model_fields)
ENTRY_WIDTHS = (SIZE_WIDTH, len("2024-06-01 12:00:00Z"), len("md5:1a2b3c4d"))
"""``ls -l``: size, creation time, short checksum (longer ones push the name along)."""

T = TypeVar("T")


def _nonempty(items: Iterator[T]) -> Iterator[T] | None:
    """The same items, or None when there are none (asks for the first page only)."""
    for first in items:
        return itertools.chain([first], items)
    return None


def file_summary(info: FileInfo) -> FileSummary:
    return FileSummary.model_validate(info.model_dump(include=SUMMARY_FIELDS))


def _file_json(summary: FileSummary) -> dict[str, object]:
    return {**summary.model_dump(mode="json"), "type": "file"}


def _print_files(ctx: Context, files: Iterator[FileSummary]) -> None:
    """Rows are printed as pages arrive: fixed-width columns need no second pass."""
    if ctx.json:
        print_json_array(_file_json(f) for f in files)
        return
    for summary in files:
        print(file_row(summary, long=ctx.args.long))


def _nothing(ctx: Context, what: str) -> int:
    """Nothing matched is an answer, not an error: exit 0, and say so on stderr."""
    if ctx.json:
        print_json([])
    else:
        print(f"librarian: {what}", file=sys.stderr)
    return 0


def _entry_row(entry: str | FileSummary, directory: str, *, long: bool) -> str:
    """One level's entry, named relative to the directory listed (as ``ls`` does)."""
    if isinstance(entry, str):
        name = entry[len(directory) :]
        return format_row(("-", "-", "-", name), ENTRY_WIDTHS, right={0}) if long else name
    name = entry.name[len(directory) :]
    if not long:
        return name
    cells = (
        format_size(entry.size),
        format_time(entry.created_time),
        short_checksum(entry.checksum),
        name,
    )
    return format_row(cells, ENTRY_WIDTHS, right={0})


def _print_level(
    ctx: Context, entries: Iterator[str | FileSummary] | Iterator[FileSummary], directory: str
) -> None:
    if ctx.json:
        print_json_array(
            {"name": e, "type": "directory"} if isinstance(e, str) else _file_json(e)
            for e in entries
        )
        return
    for entry in entries:
        print(_entry_row(entry, directory, long=ctx.args.long))


def cmd_ls(ctx: Context) -> int:
    prefix: str = ctx.args.prefix
    directory = prefix if prefix == "" or prefix.endswith("/") else prefix + "/"
    with ctx.client() as client:
        if ctx.args.recursive:
            files = _nonempty(client.search(prefix=directory or None))
            if files is not None:
                _print_level(ctx, files, directory)
                return 0
        else:
            entries = _nonempty(client.listdir(directory))
            if entries is not None:
                _print_level(ctx, entries, directory)
                return 0
        if directory != prefix:  # `ls NAME` of a file shows that file
            try:
                info = client.info(prefix)
            except NotFound:
                pass
            else:
                summary = file_summary(info)
                if ctx.json:
                    print_json([_file_json(summary)])
                else:
                    print(_entry_row(summary, "", long=ctx.args.long))
                return 0
    return _nothing(ctx, f"nothing under {directory or 'the top level'!r}")


def cmd_search(ctx: Context) -> int:
    args = ctx.args
    with ctx.client() as client:
        files = _nonempty(
            client.search(
                name=args.name,
                prefix=args.prefix,
                created_after=args.created_after,
                created_before=args.created_before,
                min_size=args.min_size,
                max_size=args.max_size,
                uploader=args.uploader,
                limit=args.limit,
            )
        )
        if files is None:
            return _nothing(ctx, "no files matched")
        _print_files(ctx, files)
    return 0


def cmd_info(ctx: Context) -> int:
    with ctx.client() as client:
        info = client.info(ctx.args.name)
    if ctx.json:
        print_json(info.model_dump(mode="json"))
        return 0
    print_table(
        ("name:", info.name),
        [
            ("size:", f"{format_size(info.size)} ({info.size} bytes)"),
            ("checksum:", info.checksum),
            ("uploader:", info.uploader),
            ("source:", info.source),
            ("created:", format_time(info.created_time)),
        ],
    )
    if not info.instances:
        print("instances: none on this site")
    else:
        print("instances:")
        rows = [
            (
                i.store,
                "yes" if i.available else "no",
                i.verified_result.value if i.verified_result else "-",
                format_time(i.verified_time) if i.verified_time else "-",
                i.verified_by or "-",
                format_time(i.created_time),
                i.path,
            )
            for i in info.instances
        ]
        headers = ("STORE", "AVAILABLE", "VERIFIED", "CHECKED", "BY", "CREATED", "PATH")
        print_table(headers, rows, indent="  ")
        for i in info.instances:
            if i.verified_detail:
                print(f"  {i.store}: {i.verified_detail}")
    if not info.remote_instances:
        print("remote instances: none known")
    else:
        print("remote instances:")
        remote = [(r.site, format_time(r.copy_time)) for r in info.remote_instances]
        print_table(("SITE", "SINCE"), remote, indent="  ")
    return 0


def cmd_stores(ctx: Context) -> int:
    with ctx.client() as client:
        stores = client.stores()
    if ctx.json:
        print_json([s.model_dump(mode="json") for s in stores])
        return 0
    rows = [
        (
            s.name,
            s.kind,
            "retired" if s.retired else "yes" if s.enabled else "no",
            "yes" if s.accepts_ingest else "no",
            format_size(s.used_bytes),
            format_size(s.free_bytes),
            format_size(s.capacity_bytes) if s.capacity_bytes is not None else "-",
            f"{s.damaged}/{s.lost}/{s.dark}",
            s.policy.describe() if s.policy is not None else "-",
            s.root,
        )
        for s in stores
    ]
    print_table(
        (
            "NAME",
            "KIND",
            "ENABLED",
            "INGEST",
            "USED",
            "FREE",
            "CAPACITY",
            "DMG/LOST/DARK",
            "POLICY",
            "ROOT",
        ),
        rows,
    )
    return 0
