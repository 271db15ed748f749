"""The parser of ``librarian upload`` and ``librarian download``."""

from __future__ import annotations

import argparse

from librarian_client.cli.output import examples, positive_int
from librarian_client.cli.parsers import Command


def _transfers(text: str) -> int:
    value = positive_int(text)
    if value > MAX_TRANSFERS:
        raise argparse.ArgumentTypeError(f"at most {MAX_TRANSFERS}")
    return value


MAX_TRANSFERS = 64
DEFAULT_TRANSFERS = 4


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    up = sub.add_parser(
        "upload",
        parents=[common],
        help="upload a file or a directory tree",
        description="Upload SRC as DEST. A directory uploads every file below it as "
        "DEST/relative/path. Files already there with the same contents are skipped, so "
        "running an interrupted upload again finishes it.",
        epilog=examples(
            "librarian upload obs.g3 obs/2024-06-01/obs.g3    # one file, exact name",
            "librarian upload obs.g3 obs/2024-06-01/          # DIR/ appends the basename",
            "librarian upload ./night1/ obs/2024-06-01/ --transfers 8",
            "librarian upload ./night1/ obs/2024-06-01/ --dry-run",
        ),
    )
    up.add_argument("src", metavar="SRC", help="local file or directory")
    up.add_argument(
        "dest", metavar="DEST", help="name in the librarian ('DIR/' appends the basename)"
    )
    _transfer_options(up, "upload")
    up.set_defaults(func=Command("transfer", "cmd_upload"))

    down = sub.add_parser(
        "download",
        parents=[common],
        help="download a file or a whole tree, verifying checksums",
        description="Download NAME to LOCAL (a path, or an existing directory), or every "
        "file below NAME/ into the directory LOCAL. A file appears only once its size and "
        "checksum verify; files already there and verified are skipped (so a rerun "
        "resumes); a local file that differs is never overwritten without --force.",
        epilog=examples(
            "librarian download obs/2024-06-01/obs.g3 .       # one file into .",
            "librarian download obs/2024-06-01/ ./night1/     # the whole tree",
            "librarian download obs/2024-06-01/ ./night1/ --transfers 8 --dry-run",
        ),
    )
    down.add_argument("name", metavar="NAME", help="a file, or a directory ('obs/run1/')")
    down.add_argument("local", metavar="LOCAL", help="local file or directory")
    down.add_argument(
        "--force", action="store_true", help="overwrite local files that differ from the server's"
    )
    _transfer_options(down, "download")
    down.set_defaults(func=Command("transfer", "cmd_download"))


def _transfer_options(parser: argparse.ArgumentParser, verb: str) -> None:
    parser.add_argument(
        "--transfers",
        metavar="N",
        type=_transfers,
        default=DEFAULT_TRANSFERS,
        help=f"files to {verb} at once (default {DEFAULT_TRANSFERS})",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help=f"print what would be {verb}ed or skipped, and change nothing",
    )
