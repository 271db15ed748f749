"""The parser of ``librarian rm``."""

from __future__ import annotations

import argparse

from librarian_client.cli.output import examples
from librarian_client.cli.parsers import Command


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
    rm.set_defaults(func=Command("remove", "cmd_rm"))
