"""The parser of ``librarian users`` and ``librarian audit``."""

from __future__ import annotations

import argparse

from librarian_client.cli.output import examples, positive_int
from librarian_client.cli.parsers import Command
from librarian_client.limits import PermissionLevel

LEVELS = [level.value for level in PermissionLevel]


def _password_file(parser: argparse.ArgumentParser, dest: str, whose: str) -> None:
    # Not ``password_file``: that is the connection's own (the login), given before
    # the command, and a subcommand's default would overwrite it.
    parser.add_argument(
        "--password-file",
        dest=dest,
        metavar="F",
        help=f"file holding {whose}; default: ask twice at the terminal",
    )


def _register_users(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    users = sub.add_parser(
        "users",
        parents=[common],
        help="list and administer accounts (admin), change your password",
        description="Accounts on the server: list them, add one, change its level, "
        "disable, enable or delete it (admins), or change your own password (anyone).",
        epilog=examples("librarian users", "librarian users add bob --level read-append"),
    )
    users.set_defaults(func=Command("users", "cmd_users_list"))
    users_sub = users.add_subparsers(dest="users_command", metavar="ACTION")
    users_sub.add_parser(
        "list",
        parents=[common],
        help="list accounts (default; admin)",
        description="Name, level, disabled, live tokens, created, newest token.",
        epilog=examples("librarian users list --json"),
    )
    add = users_sub.add_parser(
        "add",
        parents=[common],
        help="add an account (admin)",
        description="Add an account. The password is read from --password-file or asked "
        "twice at the terminal; never from the command line.",
        epilog=examples(
            "librarian users add bob --level read-append --password-file bob.pw",
            "librarian users add carol --level admin    # asks for the password",
        ),
    )
    add.add_argument("user_name", metavar="NAME", help="letters, digits and . _ - @")
    add.add_argument("--level", choices=LEVELS, required=True, help="the permission level")
    _password_file(add, "new_password_file", "the new user's password")
    add.set_defaults(func=Command("users", "cmd_users_add"))

    update = users_sub.add_parser(
        "update",
        parents=[common],
        help="change an account's level, disable or enable it (admin)",
        description="Change the level and/or disable or re-enable an account; the user's "
        "logins and tokens feel it on their next request. The last enabled admin cannot "
        "be demoted or disabled.",
        epilog=examples(
            "librarian users update bob --level read-only",
            "librarian users update bob --disable",
        ),
    )
    update.add_argument("user_name", metavar="NAME", help="the account")
    update.add_argument("--level", choices=LEVELS, help="the new permission level")
    state = update.add_mutually_exclusive_group()
    state.add_argument(
        "--disable", dest="disabled", action="store_const", const=True, help="refuse its logins"
    )
    state.add_argument(
        "--enable", dest="disabled", action="store_const", const=False, help="re-admit it"
    )
    update.set_defaults(func=Command("users", "cmd_users_update"))

    remove = users_sub.add_parser(
        "delete",
        parents=[common],
        help="delete an account and its tokens (admin)",
        description="Delete an account and its tokens; the files it uploaded stay. "
        "Refused for the account a peer site uses and for the last enabled admin.",
        epilog=examples("librarian users delete bob"),
    )
    remove.add_argument("user_name", metavar="NAME", help="the account")
    remove.set_defaults(func=Command("users", "cmd_users_delete"))

    password = users_sub.add_parser(
        "password",
        parents=[common],
        help="change your own password",
        description="Change the password of the account you are logged in as. A wrong "
        "current password counts as a failed login. Your tokens stay valid unless "
        "--revoke-tokens (the connection's own token, if it uses one, always does).",
        epilog=examples(
            "librarian users password",
            "librarian users password --current-file old.pw --password-file new.pw",
        ),
    )
    password.add_argument(
        "--current-file",
        dest="current_password_file",
        metavar="F",
        help="file holding your current password; default: ask at the terminal",
    )
    _password_file(password, "new_password_file", "your new password")
    password.add_argument(
        "--revoke-tokens", action="store_true", help="also revoke all your other tokens"
    )
    password.set_defaults(func=Command("users", "cmd_users_password"))


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    _register_users(sub, common)
    audit = sub.add_parser(
        "audit",
        parents=[common],
        help="administrators' actions on accounts and tokens (admin)",
        description="The audit log, newest first: who created, changed or deleted which "
        "account, changed a password or revoked someone's token, and when.",
        epilog=examples("librarian audit", "librarian audit --limit 500 --json"),
    )
    audit.add_argument(
        "--limit", metavar="N", type=positive_int, default=50, help="at most N events (50)"
    )
    audit.set_defaults(func=Command("users", "cmd_audit"))
