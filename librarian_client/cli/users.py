"""``librarian users`` and ``librarian audit``: accounts through the server's API.

Passwords come from a file or are typed at a terminal (never argv, which ``ps`` and
shell histories show), and are never printed.
"""

from __future__ import annotations

import getpass
import json
import sys

from librarian_client.cli.context import CLIError, Context, read_secret_file
from librarian_client.cli.output import format_time, print_json, print_table
from librarian_client.models import AuditEvent, UserRead


def _password(path: str | None, prompt: str, *, confirm: bool) -> str:
    """From ``path``, else asked at the terminal (twice when ``confirm``)."""
    if path is not None:
        return read_secret_file(path, "password")
    if not sys.stdin.isatty():
        raise CLIError(
            "There is no terminal to ask for the password.", "Pass --password-file FILE."
        )
    first = getpass.getpass(prompt)
    if confirm and getpass.getpass("Again: ") != first:
        raise CLIError("The two passwords differ; nothing changed.", "Type the same one twice.")
    if not first:
        raise CLIError("The password is empty; nothing changed.", "Type a password.")
    return first


def _print_user(ctx: Context, user: UserRead, done: str) -> None:
    if ctx.json:
        print_json(user.model_dump(mode="json"))
    else:
        state = "disabled" if user.disabled else "enabled"
        print(f"{done} user {user.name!r}: {user.permission.value}, {state}")


def cmd_users_list(ctx: Context) -> int:
    with ctx.client() as client:
        found = client.users()
    if ctx.json:
        print_json([u.model_dump(mode="json") for u in found])
        return 0
    rows = [
        (
            u.name,
            u.permission.value,
            "yes" if u.disabled else "no",
            str(u.live_tokens),
            format_time(u.created_time),
            format_time(u.last_token_created) if u.last_token_created else "-",
        )
        for u in found
    ]
    print_table(("NAME", "LEVEL", "DISABLED", "TOKENS", "CREATED", "NEWEST TOKEN"), rows)
    return 0


def cmd_users_add(ctx: Context) -> int:
    args = ctx.args
    password = _password(args.new_password_file, f"Password for {args.user_name}: ", confirm=True)
    with ctx.client() as client:
        user = client.create_user(args.user_name, password, args.level)
    _print_user(ctx, user, "created")
    return 0


def cmd_users_update(ctx: Context) -> int:
    args = ctx.args
    if args.level is None and args.disabled is None:
        raise CLIError("Nothing to change.", "Give --level, --disable or --enable.")
    with ctx.client() as client:
        user = client.update_user(args.user_name, permission=args.level, disabled=args.disabled)
    _print_user(ctx, user, "updated")
    return 0


def cmd_users_delete(ctx: Context) -> int:
    with ctx.client() as client:
        done = client.delete_user(ctx.args.user_name)
    if ctx.json:
        print_json(done.model_dump(mode="json"))
    else:
        print(f"deleted user {done.name!r} and {done.tokens_revoked} token(s)")
    return 0


def cmd_users_password(ctx: Context) -> int:
    args = ctx.args
    current = _password(args.current_password_file, "Current password: ", confirm=False)
    new = _password(args.new_password_file, "New password: ", confirm=True)
    with ctx.client() as client:
        done = client.change_password(current, new, revoke_tokens=args.revoke_tokens)
    if ctx.json:
        print_json(done.model_dump(mode="json"))
    else:
        extra = f"; revoked {done.tokens_revoked} token(s)" if args.revoke_tokens else ""
        print(f"changed the password of {done.user!r}{extra}")
    return 0


def _detail(event: AuditEvent) -> str:
    return json.dumps(event.detail, separators=(",", ":"), sort_keys=True) if event.detail else ""


def cmd_audit(ctx: Context) -> int:
    with ctx.client() as client:
        found = list(client.audit(limit=ctx.args.limit))
    if ctx.json:
        print_json([e.model_dump(mode="json") for e in found])
        return 0
    if not found:
        print("no admin actions recorded", file=sys.stderr)
        return 0
    rows = [(str(e.id), format_time(e.time), e.kind, e.actor, e.subject, _detail(e)) for e in found]
    print_table(("ID", "TIME", "KIND", "ACTOR", "SUBJECT", "DETAIL"), rows)
    return 0
