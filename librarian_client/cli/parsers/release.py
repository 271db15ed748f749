"""The parser of ``librarian release``."""

from __future__ import annotations

import argparse

from librarian_client.cli.output import examples, positive_int
from librarian_client.cli.parsers import Command


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    release = sub.add_parser(
        "release",
        parents=[common],
        help="apply a store's release or tiering policy (admin)",
        description="Walk the copies on STORE older than its policy's age, oldest first. "
        "A move policy copies each to its target store, verifies it and then drops the old "
        "copy; a delete policy asks the other sites holding each file to re-hash their "
        "copies now and drops this store's copy only when enough of them prove theirs. "
        "--dry-run lists what would go and why, and changes nothing.",
        epilog=examples(
            "librarian release --store fast --dry-run",
            "librarian release --store fast --dry-run --json",
            "librarian release --store fast",
        ),
    )
    release.add_argument("--store", required=True, metavar="STORE", help="the store to release")
    release.add_argument("--dry-run", action="store_true", help="list and explain; change nothing")
    release.add_argument(
        "--page-size", metavar="N", type=positive_int, default=100, help="candidates per request"
    )
    release.set_defaults(func=Command("release", "cmd_release"))
