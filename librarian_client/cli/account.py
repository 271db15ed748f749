"""``librarian ping``, ``connections`` and ``token``: who and where we are."""

from __future__ import annotations

import argparse
import socket

from pydantic import SecretStr, ValidationError

from librarian_client.cli.context import DEFAULT_TIMEOUT, CLIError, Context, read_secret_file
from librarian_client.cli.output import (
    examples,
    format_time,
    parse_duration,
    print_json,
    print_table,
)
from librarian_client.client import LibrarianClient
from librarian_client.config import (
    Connection,
    config_path,
    load_config,
    remove_connection,
    save_connection,
)
from librarian_client.models import MAX_ID


def cmd_ping(ctx: Context) -> int:
    with ctx.client() as client:
        pong = client.ping()
        url = client.url
    if ctx.json:
        print_json(pong.model_dump(mode="json"))
        return 0
    who = (
        f"as {pong.user} ({pong.permission or 'unknown permission'})" if pong.user else "anonymous"
    )
    print(f"{url}: {pong.name} {pong.version}, checksums {pong.checksum_algorithm}, {who}")
    return 0


def cmd_connections_list(ctx: Context) -> int:
    """Names, URLs, usernames and the kind of credential, never the secrets themselves."""
    config = load_config()
    entries = [
        {
            "name": name,
            "url": conn.url,
            "username": conn.username,
            "auth": conn.auth_kind,
            "default": name == config.default,
        }
        for name, conn in sorted(config.connections.items())
    ]
    if ctx.json:
        print_json(entries)
        return 0
    if not entries:
        print(f"no connections configured in {config_path()}")
        return 0
    rows = [
        (
            ("* " if e["default"] else "  ") + str(e["name"]),
            str(e["url"]),
            str(e["username"] or "-"),
            str(e["auth"]),
        )
        for e in entries
    ]
    print_table(("  NAME", "URL", "USERNAME", "AUTH"), rows)
    return 0


def cmd_connections_add(ctx: Context) -> int:
    """Save a connection. Given a password, log in once and keep a token instead.

    The config file then holds a credential that can be revoked or expire on its
    own, and the password itself is never written anywhere.
    """
    args = ctx.args
    password = (
        read_secret_file(args.add_password_file, "password") if args.add_password_file else None
    )
    token = read_secret_file(args.add_token_file, "token") if args.add_token_file else None
    try:
        conn = Connection.model_validate(
            {"url": args.conn_url, "username": args.add_username, "token": token}
        )
    except ValidationError:
        raise CLIError(
            f"The URL {args.conn_url!r} is not an http(s) URL.",
            "Give the full URL, e.g. http://localhost:21108.",
        ) from None
    expires_at = None
    if password is not None:
        if args.add_username is None:
            raise CLIError("--password-file needs --username.", "Say whose password it is.")
        timeout = args.timeout if args.timeout is not None else DEFAULT_TIMEOUT
        login = LibrarianClient(
            conn.url, args.add_username, password, timeout=timeout, transport=ctx.transport
        )
        description = f"librarian connections add {args.conn_name} on {socket.gethostname()}"
        with login:
            created = login.create_token(args.expires, description[:200])
        conn = conn.model_copy(update={"token": SecretStr(created.token)})
        expires_at = created.expires_at
    path = save_connection(args.conn_name, conn, make_default=args.default)
    if ctx.json:
        print_json(
            {
                "name": args.conn_name,
                "path": str(path),
                "auth": conn.auth_kind,
                "expires_at": expires_at.isoformat() if expires_at else None,
            }
        )
    else:
        how = " with a new token" if password is not None else ""
        until = f" (expires {format_time(expires_at)})" if expires_at else ""
        print(f"saved connection {args.conn_name} to {path}{how}{until}")
    return 0


def cmd_connections_remove(ctx: Context) -> int:
    path = remove_connection(ctx.args.conn_name)
    if not ctx.json:
        print(f"removed connection {ctx.args.conn_name} from {path}")
    return 0


def cmd_token_create(ctx: Context) -> int:
    with ctx.client() as client:
        created = client.create_token(ctx.args.expires, ctx.args.description)
    if ctx.json:
        print_json(created.model_dump(mode="json"))
    else:
        print(created.token)  # alone on stdout, so `librarian token create > file` works
    return 0


def cmd_token_list(ctx: Context) -> int:
    with ctx.client() as client:
        found = client.list_tokens(all_users=ctx.args.all_users)
    if ctx.json:
        print_json([t.model_dump(mode="json") for t in found])
        return 0
    if not found:
        print("no tokens")
        return 0
    rows = [
        (
            str(t.id),
            t.user,
            t.created_time.strftime("%Y-%m-%d %H:%M"),
            t.expires_at.strftime("%Y-%m-%d %H:%M") if t.expires_at else "never",
            "-" if t.parent_id is None else str(t.parent_id),
            t.description,
        )
        for t in found
    ]
    print_table(("ID", "USER", "CREATED", "EXPIRES", "PARENT", "DESCRIPTION"), rows)
    return 0


def cmd_token_revoke(ctx: Context) -> int:
    with ctx.client() as client:
        done = client.revoke_token(ctx.args.token_id)
    if ctx.json:
        print_json(done.model_dump(mode="json"))
        return 0
    children = len(done.revoked) - 1
    extra = f" and {children} token(s) made with it" if children else ""
    print(f"revoked token {ctx.args.token_id}{extra}")
    return 0


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
    ping.set_defaults(func=cmd_ping)

    conns = sub.add_parser(
        "connections",
        parents=[common],
        help="list, add or remove configured servers",
        description="Named servers in the client config; `librarian --connection NAME ...` "
        "uses one, and the default is used when none is named.",
        epilog=examples("librarian connections", "librarian connections list --json"),
    )
    conns.set_defaults(func=cmd_connections_list)
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
    add.set_defaults(func=cmd_connections_add)
    remove = conns_sub.add_parser(
        "remove",
        parents=[common],
        help="forget a connection",
        description="Remove a connection from the client config (its token stays valid "
        "on the server until it expires).",
        epilog=examples("librarian connections remove lab"),
    )
    remove.add_argument("conn_name", metavar="NAME", help="the connection to forget")
    remove.set_defaults(func=cmd_connections_remove)

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
    create.set_defaults(func=cmd_token_create)
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
    listing.set_defaults(func=cmd_token_list)
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
    revoke.set_defaults(func=cmd_token_revoke)
