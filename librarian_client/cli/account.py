"""``librarian ping``, ``connections`` and ``token``: who and where we are."""

from __future__ import annotations

import argparse

from pydantic import ValidationError

from ..config import Connection, config_path, load_config, remove_connection, save_connection
from .context import CLIError, Context, read_secret_file
from .output import parse_duration, print_json, print_table


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
    args = ctx.args
    password = (
        read_secret_file(args.add_password_file, "password") if args.add_password_file else None
    )
    token = read_secret_file(args.add_token_file, "token") if args.add_token_file else None
    fields = {"url": args.conn_url, "username": args.add_username}
    try:
        conn = Connection.model_validate({**fields, "password": password, "token": token})
    except ValidationError:
        raise CLIError(
            f"The URL {args.conn_url!r} is not an http(s) URL.",
            "Give the full URL, e.g. http://localhost:21108.",
        ) from None
    path = save_connection(args.conn_name, conn, make_default=args.default)
    if ctx.json:
        print_json({"name": args.conn_name, "path": str(path)})
    else:
        print(f"saved connection {args.conn_name} to {path}")
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
    if not 1 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"{text!r} is not a token id")
    return value


def _description(text: str) -> str:
    if len(text) > 200:
        raise argparse.ArgumentTypeError("at most 200 characters")
    return text


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    ping = sub.add_parser("ping", parents=[common], help="check the server and your login")
    ping.set_defaults(func=cmd_ping)

    conns = sub.add_parser("connections", parents=[common], help="list or add configured servers")
    conns.set_defaults(func=cmd_connections_list)
    conns_sub = conns.add_subparsers(dest="connections_command", metavar="ACTION")
    conns_sub.add_parser("list", parents=[common], help="list connections (default)")
    add = conns_sub.add_parser(
        "add",
        parents=[common],
        help="add or replace a connection",
        description="Save a connection to the client config (written with mode 0600).",
    )
    add.add_argument("conn_name", metavar="NAME")
    add.add_argument("conn_url", metavar="URL")
    add.add_argument("--username", dest="add_username", metavar="U")
    secret = add.add_mutually_exclusive_group()
    secret.add_argument("--password-file", dest="add_password_file", metavar="F")
    secret.add_argument("--token-file", dest="add_token_file", metavar="F")
    add.add_argument("--default", action="store_true", help="make it the default connection")
    add.set_defaults(func=cmd_connections_add)
    remove = conns_sub.add_parser("remove", parents=[common], help="forget a connection")
    remove.add_argument("conn_name", metavar="NAME")
    remove.set_defaults(func=cmd_connections_remove)

    token = sub.add_parser("token", parents=[common], help="manage API tokens")
    token_sub = token.add_subparsers(dest="token_command", metavar="ACTION", required=True)
    create = token_sub.add_parser(
        "create",
        parents=[common],
        help="create a bearer token for yourself",
        description="Print a new bearer token (only the token, unless --json).",
    )
    create.add_argument(
        "--expires", metavar="DURATION", type=parse_duration, help="e.g. 30d, 12h, 3600s"
    )
    create.add_argument("--description", metavar="D", default="", type=_description)
    create.set_defaults(func=cmd_token_create)
    listing = token_sub.add_parser(
        "list",
        parents=[common],
        help="list your tokens",
        description="List your live tokens: ids, expiry, the token each was made with.",
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
    )
    revoke.add_argument("token_id", metavar="ID", type=_token_id)
    revoke.set_defaults(func=cmd_token_revoke)
