"""The parser of ``librarian ping``, ``connections`` and ``token``."""

from __future__ import annotations

import argparse

from librarian_client.cli.output import examples, parse_duration
from librarian_client.cli.parsers import Command
from librarian_client.limits import MAX_ID


def _token_id(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a token id") from None
    if not 1 <= value <= MAX_ID:
        raise argparse.ArgumentTypeError(f"{text!r} is not a token id")
    return value


def _description(text: str) -> str:
    if len(text) > 200:
        raise argparse.ArgumentTypeError("at most 200 characters")
    return text


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    ping = sub.add_parser(
        "ping",
        parents=[common],
        help="check the server and your login",
        description="Show the server's name, version and checksum algorithm, and who you are.",
        epilog=examples("librarian ping", "librarian --connection mountain ping --json"),
    )
    ping.set_defaults(func=Command("ping", "cmd_ping"))

    conns = sub.add_parser(
        "connections",
        parents=[common],
        help="list, add or remove configured servers",
        description="Named servers in the client config; `librarian --connection NAME ...` "
        "uses one, and the default is used when none is named.",
        epilog=examples("librarian connections", "librarian connections list --json"),
    )
    conns.set_defaults(func=Command("account", "cmd_connections_list"))
    conns_sub = conns.add_subparsers(dest="connections_command", metavar="ACTION")
    conns_sub.add_parser(
        "list",
        parents=[common],
        help="list connections (default)",
        description="Names, URLs, usernames and the kind of credential; never the secrets.",
        epilog=examples("librarian connections list"),
    )
    add = conns_sub.add_parser(
        "add",
        parents=[common],
        help="add or replace a connection (a password is swapped for a token)",
        description="Save a connection to the client config (written with mode 0600). With "
        "--username and --password-file the client logs in once and stores a new API "
        "token instead of the password, which is never written anywhere.",
        epilog=examples(
            "librarian connections add site http://localhost:21108 --username alice \\",
            "    --password-file ~/.alice-pw --default",
            "librarian connections add ci https://lib.example.org --token-file ci.token",
            "librarian connections add lab https://lab.example.org --username bob \\",
            "    --password-file bob.pw --expires 90d",
        ),
    )
    add.add_argument("conn_name", metavar="NAME", help="a short name, e.g. site or mountain")
    add.add_argument("conn_url", metavar="URL", help="the server, e.g. http://localhost:21108")
    add.add_argument("--username", dest="add_username", metavar="U", help="your user name")
    secret = add.add_mutually_exclusive_group()
    secret.add_argument(
        "--password-file",
        dest="add_password_file",
        metavar="F",
        help="file holding U's password: used once, to obtain a token",
    )
    secret.add_argument(
        "--token-file", dest="add_token_file", metavar="F", help="file holding a token to store"
    )
    add.add_argument(
        "--expires",
        metavar="DURATION",
        type=parse_duration,
        help="lifetime of the token obtained (e.g. 90d; default: no expiry)",
    )
    add.add_argument("--default", action="store_true", help="make it the default connection")
    add.set_defaults(func=Command("account", "cmd_connections_add"))
    remove = conns_sub.add_parser(
        "remove",
        parents=[common],
        help="forget a connection",
        description="Remove a connection from the client config (its token stays valid "
        "on the server until it expires).",
        epilog=examples("librarian connections remove lab"),
    )
    remove.add_argument("conn_name", metavar="NAME", help="the connection to forget")
    remove.set_defaults(func=Command("account", "cmd_connections_remove"))

    token = sub.add_parser(
        "token",
        parents=[common],
        help="manage API tokens",
        description="Bearer tokens for scripts and pipelines.",
        epilog=examples("librarian token create --expires 30d > pipeline.token"),
    )
    token_sub = token.add_subparsers(dest="token_command", metavar="ACTION", required=True)
    create = token_sub.add_parser(
        "create",
        parents=[common],
        help="create a bearer token for yourself",
        description="Print a new bearer token (only the token, unless --json).",
        epilog=examples(
            "librarian token create --expires 30d --description 'nightly packaging' > tok",
            "librarian token create --json",
        ),
    )
    create.add_argument(
        "--expires", metavar="DURATION", type=parse_duration, help="e.g. 30d, 12h, 3600s"
    )
    create.add_argument(
        "--description",
        metavar="D",
        default="",
        type=_description,
        help="what the token is for (at most 200 characters)",
    )
    create.set_defaults(func=Command("account", "cmd_token_create"))
    listing = token_sub.add_parser(
        "list",
        parents=[common],
        help="list your tokens",
        description="List your live tokens: ids, expiry, the token each was made with.",
        epilog=examples("librarian token list", "librarian token list --all --json"),
    )
    listing.add_argument(
        "--all", dest="all_users", action="store_true", help="every user's (admins only)"
    )
    listing.set_defaults(func=Command("account", "cmd_token_list"))
    revoke = token_sub.add_parser(
        "revoke",
        parents=[common],
        help="revoke a token and the tokens made with it",
        description="Revoke token ID (see `librarian token list`) and every token made with it.",
        epilog=examples("librarian token revoke 42"),
    )
    revoke.add_argument(
        "token_id", metavar="ID", type=_token_id, help="from `librarian token list`"
    )
    revoke.set_defaults(func=Command("account", "cmd_token_revoke"))
