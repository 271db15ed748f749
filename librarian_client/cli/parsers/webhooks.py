"""The parser of ``librarian webhooks``."""

from __future__ import annotations

import argparse

from librarian_client.cli.output import examples
from librarian_client.cli.parsers import Command


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    hooks = sub.add_parser(
        "webhooks",
        parents=[common],
        help="receivers posted the site's events (admin)",
        description="Subscriptions that are POSTed new events, signed, in order, at least once. "
        "Without an action: the list.",
        epilog=examples(
            "librarian webhooks add ingest https://hooks.example/librarian --kinds file.committed",
            "librarian webhooks list",
            "librarian webhooks test ingest",
        ),
    )
    hooks.set_defaults(func=Command("webhooks", "cmd_list"))
    actions = hooks.add_subparsers(dest="webhooks_command", metavar="ACTION")

    add = actions.add_parser(
        "add",
        parents=[common],
        help="subscribe a receiver to the events from now on",
        description="Subscribe URL (http or https) to the events from now on: those of "
        "--kinds, or every kind but the administrators' (admin.*). Without --secret-file "
        "the server makes the signing secret and this command prints it, once.",
        epilog=examples(
            "librarian webhooks add ingest https://hooks.example/librarian",
            "librarian webhooks add audit https://siem.example/in --kinds 'admin.*' \\",
            "    --secret-file ~/.audit-hook-secret",
        ),
    )
    add.add_argument("name", metavar="NAME", help="a name for it (letters, digits, _ . -)")
    add.add_argument("hook_url", metavar="URL", help="where the events are POSTed")
    add.add_argument(
        "--kinds",
        metavar="K,K",
        help="event kinds or families to send, comma-separated (file.committed,damage.*)",
    )
    add.add_argument(
        "--secret-file", metavar="F", help="file holding the signing secret (16+ characters)"
    )
    add.set_defaults(func=Command("webhooks", "cmd_add"))

    listing = actions.add_parser(
        "list",
        parents=[common],
        help="every subscription and where its delivery stands",
        description="Each subscription: enabled, backlog, attempts, last delivery and error.",
        epilog=examples("librarian webhooks list", "librarian webhooks list --json"),
    )
    listing.set_defaults(func=Command("webhooks", "cmd_list"))

    for action, help_text, function in (
        ("show", "one subscription in full", "cmd_show"),
        ("enable", "deliver again (catching up on what it missed)", "cmd_enable"),
        ("disable", "stop delivering; its place in the log is kept", "cmd_disable"),
        ("remove", "delete the subscription", "cmd_remove"),
        ("test", "have the server POST a signed test body to it now", "cmd_test"),
    ):
        one = actions.add_parser(
            action,
            parents=[common],
            help=help_text,
            description=help_text[0].upper() + help_text[1:] + ".",
            epilog=examples(f"librarian webhooks {action} ingest"),
        )
        one.add_argument("name", metavar="NAME", help="the subscription's name")
        one.set_defaults(func=Command("webhooks", function))
