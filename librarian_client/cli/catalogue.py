"""``librarian ls``, ``search``, ``info`` and ``stores``: reading the catalogue."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

from ..models import FileSummary
from .context import Context
from .output import (
    file_row,
    format_size,
    format_time,
    parse_size,
    parse_time,
    positive_int,
    print_json,
    print_json_array,
    print_table,
)


def _print_files(ctx: Context, files: Iterator[FileSummary]) -> None:
    """Rows are printed as pages arrive: fixed-width columns need no second pass."""
    if ctx.json:
        print_json_array(f.model_dump(mode="json") for f in files)
        return
    for summary in files:
        print(file_row(summary, long=ctx.args.long))


def cmd_ls(ctx: Context) -> int:
    with ctx.client() as client:
        _print_files(ctx, client.search(prefix=ctx.args.prefix or None))
    return 0


def cmd_search(ctx: Context) -> int:
    args = ctx.args
    with ctx.client() as client:
        files = client.search(
            name=args.name,
            prefix=args.prefix,
            created_after=args.created_after,
            created_before=args.created_before,
            min_size=args.min_size,
            max_size=args.max_size,
            uploader=args.uploader,
            limit=args.limit,
        )
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
                format_time(i.created_time),
                i.path,
            )
            for i in info.instances
        ]
        print_table(("STORE", "AVAILABLE", "VERIFIED", "CREATED", "PATH"), rows, indent="  ")
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
            "yes" if s.enabled else "no",
            "yes" if s.accepts_ingest else "no",
            format_size(s.used_bytes),
            format_size(s.free_bytes),
            format_size(s.capacity_bytes) if s.capacity_bytes is not None else "-",
            s.root,
        )
        for s in stores
    ]
    print_table(("NAME", "KIND", "ENABLED", "INGEST", "USED", "FREE", "CAPACITY", "ROOT"), rows)
    return 0


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    ls = sub.add_parser("ls", parents=[common], help="list files under a name prefix")
    ls.add_argument("prefix", metavar="PREFIX", nargs="?", default="")
    ls.add_argument("-l", "--long", action="store_true", help="show checksums too")
    ls.set_defaults(func=cmd_ls)

    search = sub.add_parser(
        "search",
        parents=[common],
        help="find files by name glob, prefix, time, size or uploader",
        description="Glob: '*' matches any characters including '/', '?' one character. "
        "Sizes take units (10MiB, 2GB); times are ISO 8601 (UTC unless a zone is given).",
    )
    search.add_argument("--name", metavar="GLOB")
    search.add_argument("--prefix", metavar="P")
    search.add_argument("--created-after", metavar="TIME", type=parse_time)
    search.add_argument("--created-before", metavar="TIME", type=parse_time)
    search.add_argument("--min-size", metavar="SIZE", type=parse_size)
    search.add_argument("--max-size", metavar="SIZE", type=parse_size)
    search.add_argument("--uploader", metavar="USER")
    search.add_argument("--limit", metavar="N", type=positive_int, help="stop after N files")
    search.add_argument("-l", "--long", action="store_true", help="show checksums too")
    search.set_defaults(func=cmd_search)

    info = sub.add_parser("info", parents=[common], help="show one file and its copies")
    info.add_argument("name", metavar="NAME")
    info.set_defaults(func=cmd_info)

    stores = sub.add_parser("stores", parents=[common], help="list the site's stores")
    stores.set_defaults(func=cmd_stores)
