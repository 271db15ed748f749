"""The parser of ``librarian events``."""

from __future__ import annotations

import argparse

from librarian_client.cli.output import examples, positive_int
from librarian_client.cli.parsers import Command


def _seq(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not an event number (0 or more)")
    return value


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    events = sub.add_parser(
        "events",
        parents=[common],
        help="what happened on the site: commits, copies confirmed, failures, damage",
        description="Print the site's events after --after SEQ, oldest first, one line each "
        "(seq, time, kind, subject, actor); the cursor to read on from is printed on stderr. "
        "--follow keeps printing events as they happen until interrupted. Administrators' "
        "actions (admin.*) are shown to administrators only.",
        epilog=examples(
            "librarian events --kinds file.committed,copy.confirmed --limit 20",
            "librarian events --after 1200 --follow",
            "librarian events --kinds 'transfer.failed,batch.failed' --follow --json",
        ),
    )
    events.add_argument(
        "--after", metavar="SEQ", type=_seq, default=0, help="only events after this one (0)"
    )
    events.add_argument(
        "--kinds", metavar="K,K", default="", help="only these kinds ('admin.*': a family)"
    )
    events.add_argument(
        "--limit", metavar="N", type=positive_int, default=100, help="events to print (100)"
    )
    events.add_argument("--follow", action="store_true", help="keep printing events as they happen")
    events.set_defaults(func=Command("events", "cmd_events"))
