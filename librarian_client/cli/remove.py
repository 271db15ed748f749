"""``librarian rm``: delete files by name or prefix, under the server's deletion rule."""

from __future__ import annotations

from librarian_client.cli.context import CLIError, Context
from librarian_client.cli.output import format_size, print_json


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
