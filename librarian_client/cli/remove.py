"""``librarian rm``: delete files by name or prefix, under the server's deletion rule."""

from __future__ import annotations

import argparse

from librarian_client.cli.context import CLIError, Context
from librarian_client.cli.output import examples, format_size, print_json


def cmd_rm(ctx: Context) -> int:
    args = ctx.args
    if bool(args.names) == (args.prefix is not None):
        raise CLIError(
            "Give file names or --prefix, not both or neither.",
            "e.g. librarian rm obs/run1/a.g3, or librarian rm --prefix obs/run1/",
        )
    with ctx.client() as client:
        result = client.delete(
            args.names,
            prefix=args.prefix,
            force=args.force,
            last_copy=args.last_copy,
            dry_run=args.dry_run,
        )
    if ctx.json:
        print_json(result.model_dump(mode="json"))
        return 0
    verb = "would delete" if result.dry_run else "deleted"
    for file in result.deleted:
        note = "  (last copy)" if file.last_copy else ""
        print(f"{verb} {file.name}{note}")
    count = len(result.deleted)
    print(f"{verb} {count} file{'' if count == 1 else 's'}, {format_size(result.bytes_freed)}")
    return 0


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    rm = sub.add_parser(
        "rm",
        parents=[common],
        help="delete files (all named, or none)",
        description="Delete files by name, or every file whose name starts with --prefix. "
        "Your own upload may be deleted within the site's grace period (default 24 h) while "
        "no other site has it. Anything else needs an admin and --force; a file that no "
        "other site has confirmed holding, the last copy known anywhere, also needs "
        "--last-copy. If any file is refused, none is deleted. Every deletion is recorded "
        "in the server's event log.",
        epilog=examples(
            "librarian rm obs/run1/bad.g3",
            "librarian rm --prefix obs/run1/ --dry-run",
            "librarian rm --prefix obs/2019/ --force",
        ),
    )
    rm.add_argument("names", metavar="NAME", nargs="*", help="file names to delete")
    rm.add_argument("--prefix", metavar="P", help="delete every file whose name starts with P")
    rm.add_argument(
        "--force",
        action="store_true",
        help="(admins) also delete replicated files, others' files and files past the grace",
    )
    rm.add_argument(
        "--last-copy",
        action="store_true",
        help="also delete files no other site has confirmed holding",
    )
    rm.add_argument("--dry-run", action="store_true", help="check and list; delete nothing")
    rm.set_defaults(func=cmd_rm)
