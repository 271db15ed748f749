"""``librarian connections`` and ``token``: which servers, and who we are to them."""

from __future__ import annotations

import socket

from pydantic import SecretStr, ValidationError

from librarian_client.cli.context import DEFAULT_TIMEOUT, CLIError, Context, read_secret_file
from librarian_client.cli.output import (
    format_time,
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
