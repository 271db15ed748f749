"""The parser of ``librarian transfers``, ``queues``, ``peers`` and ``tasks``."""

from __future__ import annotations

import argparse

from librarian_client.cli.output import examples, positive_int
from librarian_client.cli.parsers import Command
from librarian_client.limits import TransferStatus


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    statuses = [s.value for s in TransferStatus]
    transfers = sub.add_parser(
        "transfers",
        parents=[common],
        help="list transfers to and from peers (admin); retry or cancel one",
        description="Outgoing transfers unless --incoming, newest first.",
        epilog=examples(
            "librarian transfers --status FAILED",
            "librarian transfers --incoming --peer mountain --limit 20",
            "librarian transfers retry 1234",
        ),
    )
    transfers.add_argument("--incoming", action="store_true", help="arrivals instead of sends")
    transfers.add_argument(
        "--status", type=str.upper, choices=statuses, help="only transfers in this state"
    )
    transfers.add_argument("--peer", metavar="SITE", help="only transfers with this peer")
    transfers.add_argument(
        "--limit", metavar="N", type=positive_int, default=100, help="at most N rows (100)"
    )
    transfers.set_defaults(func=Command("replication", "cmd_transfers"))
    actions = transfers.add_subparsers(dest="transfers_command", metavar="ACTION")
    retry = actions.add_parser(
        "retry",
        parents=[common],
        help="send a failed or cancelled transfer again, or many: --status FAILED --peer SITE",
        description="Send a failed or cancelled transfer again, or every one in a state (admin).",
        epilog=examples(
            "librarian transfers retry 1234",
            "librarian transfers retry --status failed --peer ucsd",
        ),
    )
    retry.add_argument(
        "transfer_id", metavar="ID", type=positive_int, nargs="?", help="from `librarian transfers`"
    )
    retry.add_argument(
        "--status",
        dest="retry_status",
        type=str.upper,
        choices=["FAILED", "CANCELLED", "INITIATED"],
        help="retry every outgoing transfer in this state (FAILED if only --peer is given)",
    )
    retry.add_argument("--peer", dest="retry_peer", metavar="SITE", help="only those to SITE")
    retry.add_argument(
        "--limit", dest="retry_limit", metavar="N", type=positive_int, help="at most N transfers"
    )
    retry.set_defaults(func=Command("replication", "cmd_transfer_action"))
    cancel = actions.add_parser(
        "cancel",
        parents=[common],
        help="stop an outgoing transfer",
        description="Stop an outgoing transfer (admin).",
        epilog=examples("librarian transfers cancel 1234"),
    )
    cancel.add_argument(
        "transfer_id", metavar="ID", type=positive_int, help="from `librarian transfers`"
    )
    cancel.set_defaults(
        func=Command("replication", "cmd_transfer_action"), retry_status=None, retry_peer=None
    )

    queues = sub.add_parser(
        "queues",
        parents=[common],
        help="list send batches (admin)",
        description="Batches of outgoing transfers, newest first.",
        epilog=examples("librarian queues --status ONGOING", "librarian queues --peer ucsd"),
    )
    queues.add_argument(
        "--status",
        type=str.upper,
        choices=["PENDING", "ONGOING", "COMPLETED", "FAILED"],
        help="only batches in this state",
    )
    queues.add_argument("--peer", metavar="SITE", help="only batches for this peer")
    queues.add_argument(
        "--limit", metavar="N", type=positive_int, default=100, help="at most N rows (100)"
    )
    queues.set_defaults(func=Command("replication", "cmd_queues"))

    peers = sub.add_parser(
        "peers",
        parents=[common],
        help="list peer sites (admin)",
        description="Each peer: whether files are pushed to it, its managers, last contact.",
        epilog=examples("librarian peers", "librarian peers --json"),
    )
    peers.set_defaults(func=Command("replication", "cmd_peers"))

    tasks = sub.add_parser(
        "tasks",
        parents=[common],
        help="list background tasks, or run one now",
        description="The background tasks, how often each runs and its limits.",
        epilog=examples("librarian tasks", "librarian tasks run send_clone"),
    )
    tasks.set_defaults(func=Command("replication", "cmd_tasks"), tasks_command=None)
    tasks_sub = tasks.add_subparsers(dest="tasks_command", metavar="ACTION")
    run = tasks_sub.add_parser(
        "run",
        parents=[common],
        help="run a task now and wait (admin)",
        description="Run one background task now and print what it did.",
        epilog=examples("librarian tasks run send_checkins"),
    )
    run.add_argument("task_name", metavar="TASK", help="a name from `librarian tasks`")
    run.set_defaults(func=Command("replication", "cmd_tasks"))
