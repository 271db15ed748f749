"""The parser of ``librarian stage``."""

from __future__ import annotations

import argparse

from librarian_client.cli.output import examples, positive_float
from librarian_client.cli.parsers import Command


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    stage = sub.add_parser(
        "stage",
        parents=[common],
        help="bring files kept only on tape back onto disk (a staging job)",
        description="Start a staging job for NAMES, every file under --prefix, or those "
        "matching --glob; with --wait, show its progress until it ends (exit 1 if it "
        "failed). --job J looks at (or with --wait follows) an existing job, --cancel J "
        "cancels one, --list lists yours.",
        epilog=examples(
            "librarian stage obs/night1/a.fits obs/night1/b.fits --wait",
            "librarian stage --prefix obs/night1/ --notify-url https://me.example/done",
            "librarian stage --job 4f0c... --wait",
            "librarian stage --list",
        ),
    )
    stage.add_argument("names", nargs="*", metavar="NAME", help="files to stage")
    chosen = stage.add_mutually_exclusive_group()
    chosen.add_argument("--prefix", metavar="P", help="every file whose name starts with P")
    chosen.add_argument("--glob", metavar="G", help="files matching G ('*' and '?')")
    chosen.add_argument("--job", metavar="J", help="an existing job")
    chosen.add_argument("--cancel", metavar="J", help="cancel job J")
    chosen.add_argument("--list", action="store_true", help="your jobs, newest first")
    stage.add_argument("--wait", action="store_true", help="follow the job until it ends")
    stage.add_argument("--notify-url", metavar="URL", help="POSTed a signed summary at the end")
    stage.add_argument(
        "--expires", metavar="SECONDS", type=positive_float, help="fail the job after this long"
    )
    stage.add_argument(
        "--interval", metavar="SECONDS", type=positive_float, default=2.0, help="poll interval"
    )
    stage.set_defaults(func=Command("staging", "cmd_stage"))
