"""Users: create them, change a password, disable or re-admit them, list them.

Each change is recorded in the audit log, with ``librarian-server:<OS user>`` as actor.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from librarian_client.cli.output import format_time, print_table
from librarian_client.models import PermissionLevel
from librarian_server.cli.common import open_catalogue, read_password, settings_from


def cmd_create_user(args: argparse.Namespace) -> int:
    from librarian_server.services.accounts import users
    from librarian_server.services.accounts.audit import server_cli_actor
    from librarian_server.services.accounts.auth import require_new_user

    engine, factory = open_catalogue(settings_from(args))
    try:
        with factory() as session:
            require_new_user(session, args.name)
        password = read_password(args.password_file, user=args.name)
        level = PermissionLevel(args.level)
        with factory.begin() as session:
            user = users.create(session, args.name, password, level, actor=server_cli_actor())
            print(f"created user {user.name!r} with permission {user.permission.value}")
    finally:
        engine.dispose()
    return 0


def cmd_set_password(args: argparse.Namespace) -> int:
    from librarian_server.services.accounts.audit import server_cli_actor
    from librarian_server.services.accounts.auth import require_user
    from librarian_server.services.accounts.users import reset_password

    engine, factory = open_catalogue(settings_from(args))
    try:
        with factory() as session:
            require_user(session, args.name)
        password = read_password(args.password_file, user=args.name)
        with factory.begin() as session:
            user = reset_password(session, args.name, password, actor=server_cli_actor())
            print(f"changed the password of {user.name!r}")
    finally:
        engine.dispose()
    return 0


def cmd_set_user_disabled(args: argparse.Namespace) -> int:
    """Disabling takes effect within a second in every server process (auth generation)."""
    from librarian_server.services.accounts.audit import server_cli_actor
    from librarian_server.services.accounts.users import set_disabled

    disabled = args.command == "disable-user"
    engine, factory = open_catalogue(settings_from(args))
    try:
        with factory.begin() as session:
            user = set_disabled(session, args.name, disabled, actor=server_cli_actor())
            print(f"{'disabled' if disabled else 'enabled'} user {user.name!r}")
    finally:
        engine.dispose()
    return 0


def cmd_users(args: argparse.Namespace) -> int:
    from librarian_server.services.accounts.auth import list_users

    engine, factory = open_catalogue(settings_from(args))
    try:
        with factory() as session:
            rows = list_users(session)
    finally:
        engine.dispose()
    if args.json:
        listing = [
            {
                "name": u.name,
                "permission": u.permission.value,
                "admin": u.permission is PermissionLevel.ADMIN,
                "disabled": u.disabled,
                "tokens": tokens,
                "created_time": u.created_time.isoformat(),
            }
            for u, tokens in rows
        ]
        print(json.dumps(listing, indent=2))
        return 0
    if not rows:
        print("no users; add one with `librarian-server create-user NAME --level LEVEL`")
        return 0
    table = [
        [
            u.name,
            u.permission.value,
            "yes" if u.permission is PermissionLevel.ADMIN else "no",
            "yes" if u.disabled else "no",
            str(tokens),
            format_time(u.created_time),
        ]
        for u, tokens in rows
    ]
    print_table(["name", "permission", "admin", "disabled", "tokens", "created"], table)
    return 0


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    password = argparse.ArgumentParser(add_help=False)
    password.add_argument(
        "--password-file",
        metavar="FILE",
        help="file holding the password; - = stdin; default: ask at the terminal",
    )

    user = sub.add_parser("create-user", parents=[common, password], help="add a user")
    user.add_argument("name")
    user.add_argument("--level", choices=[p.value for p in PermissionLevel], required=True)
    user.set_defaults(func=cmd_create_user)

    setpw = sub.add_parser(
        "set-password", parents=[common, password], help="change a user's password"
    )
    setpw.add_argument("name")
    setpw.set_defaults(func=cmd_set_password)

    for verb, what in (("disable", "refuse every login and token of"), ("enable", "re-admit")):
        toggle = sub.add_parser(f"{verb}-user", parents=[common], help=f"{what} a user")
        toggle.add_argument("name")
        toggle.set_defaults(func=cmd_set_user_disabled)

    users = sub.add_parser("users", parents=[common], help="list users")
    users.add_argument("--json", action="store_true", help="machine-readable output")
    users.set_defaults(func=cmd_users)
