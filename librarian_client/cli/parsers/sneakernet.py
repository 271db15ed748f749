"""The parser of ``librarian sneakernet export | ingest | status | requeue``."""

from __future__ import annotations

import argparse

from librarian_client.cli.output import examples, parse_size
from librarian_client.cli.parsers import Command


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    sneakernet = sub.add_parser(
        "sneakernet",
        parents=[common],
        help="disks carried by hand: export, ingest, status (admin)",
        description="Paths are on the server, where the disk is mounted.",
        epilog=examples(
            "librarian sneakernet export --peer ucsd --to /mnt/disk7",
            "librarian sneakernet ingest /mnt/disk7",
            "librarian sneakernet status",
        ),
    )
    actions = sneakernet.add_subparsers(dest="sneakernet_command", metavar="ACTION", required=True)
    export = actions.add_parser(
        "export",
        parents=[common],
        help="write the files a peer lacks to a disk",
        description="Write what the peer lacks (and is not already on its way) to the disk "
        "mounted at DIR on the server; every file is read back before it is listed.",
        epilog=examples(
            "librarian sneakernet export --peer ucsd --to /mnt/disk7",
            "librarian sneakernet export --peer ucsd --to /mnt/disk8 --max-bytes 8T",
        ),
    )
    export.add_argument("--peer", required=True, metavar="SITE", help="the site the disk goes to")
    export.add_argument("--to", required=True, metavar="DIR", help="where the disk is mounted")
    export.add_argument(
        "--max-bytes", type=parse_size, metavar="SIZE", help="stop after SIZE, e.g. 8T"
    )
    export.set_defaults(func=Command("sneakernet", "cmd_export"))

    ingest = actions.add_parser(
        "ingest",
        parents=[common],
        help="verify and commit a disk",
        description="Check every file on the disk against its manifest and commit the good "
        "ones; bad or missing files are reported to the source, which sends them again.",
        epilog=examples("librarian sneakernet ingest /mnt/disk7"),
    )
    ingest.add_argument("path", metavar="DIR", help="the disk, or one export directory on it")
    ingest.add_argument(
        "--accept-unsigned",
        action="store_true",
        help="ingest even if the manifest is unsigned or fails its signature (logged)",
    )
    ingest.set_defaults(func=Command("sneakernet", "cmd_ingest"))

    status = actions.add_parser(
        "status",
        parents=[common],
        help="disks out and what is confirmed",
        description="Disks written here, and how many of their files the peer confirmed.",
        epilog=examples("librarian sneakernet status", "librarian sneakernet status --json"),
    )
    status.set_defaults(func=Command("sneakernet", "cmd_status"))

    requeue = actions.add_parser(
        "requeue",
        parents=[common],
        help="send a disk's unconfirmed files another way",
        description="Give up on a disk: its unconfirmed files become eligible for the "
        "network or another disk.",
        epilog=examples("librarian sneakernet requeue mountain-ucsd-20240601T000000Z-ab12"),
    )
    requeue.add_argument("label", metavar="DISK", help="the disk's label, from `status`")
    requeue.add_argument("--overdue-only", action="store_true", help="only if it is overdue")
    requeue.set_defaults(func=Command("sneakernet", "cmd_requeue"))
