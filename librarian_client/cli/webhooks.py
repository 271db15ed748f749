"""``librarian webhooks``: add, list, show, enable, disable, remove and test subscriptions."""

from __future__ import annotations

import sys

from librarian_client.cli.context import CLIError, Context, read_secret_file
from librarian_client.cli.output import format_time, print_json, print_table
from librarian_client.models import WebhookInfo


def _kinds(text: str | None) -> list[str]:
    return [k.strip() for k in (text or "").split(",") if k.strip()]


def cmd_add(ctx: Context) -> int:
    from pydantic import ValidationError

    args = ctx.args
    secret = read_secret_file(args.secret_file, "secret") if args.secret_file else None
    with ctx.client() as client:
        try:
            made = client.add_webhook(
                args.name, args.hook_url, kinds=_kinds(args.kinds), secret=secret
            )
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()
            )
            raise CLIError(
                f"The webhook is not valid: {problems}.",
                "Give an http(s) URL, a name of letters, digits, '_', '.' or '-', kinds like "
                "file.committed or admin.*, and a secret of 16 or more characters.",
            ) from None
    if ctx.json:
        print_json(made.model_dump(mode="json"))
        return 0
    kinds = ", ".join(made.kinds) or "every kind but admin.*"
    print(f"webhook {made.name} posts {kinds} to {made.url}", file=sys.stderr)
    if made.secret is not None:
        print("its signing secret, shown this once:", file=sys.stderr)
        print(made.secret)
    return 0


def _state(hook: WebhookInfo) -> str:
    if not hook.enabled:
        return "disabled"
    if hook.attempts:
        return f"failing ({hook.attempts}x)"
    return "ok"


def cmd_list(ctx: Context) -> int:
    with ctx.client() as client:
        hooks = client.webhooks()
    if ctx.json:
        print_json([h.model_dump(mode="json") for h in hooks])
        return 0
    if not hooks:
        print("no webhooks", file=sys.stderr)
        return 0
    print_table(
        ["NAME", "STATE", "BACKLOG", "DELIVERED", "LAST DELIVERY", "KINDS", "URL"],
        [
            [
                h.name,
                _state(h),
                h.backlog,
                h.delivered_events,
                format_time(h.last_delivery_time) if h.last_delivery_time else "-",
                ",".join(h.kinds) or "*",
                h.url,
            ]
            for h in hooks
        ],
        right=(2, 3),
    )
    return 0


def _show(ctx: Context, hook: WebhookInfo) -> None:
    if ctx.json:
        print_json(hook.model_dump(mode="json"))
        return
    rows = [
        ("name", hook.name),
        ("url", hook.url),
        ("kinds", ", ".join(hook.kinds) or "every kind but admin.*"),
        ("state", _state(hook)),
        ("created", f"{format_time(hook.created_time)} by {hook.created_by}"),
        ("cursor", hook.cursor),
        ("backlog", hook.backlog),
        ("delivered", f"{hook.delivered_events} event(s)"),
        ("failed attempts", hook.failed_attempts),
    ]
    for label, when in (
        ("last delivery", hook.last_delivery_time),
        ("last attempt", hook.last_attempt_time),
        ("failing since", hook.pending_since),
        ("next attempt", hook.next_attempt_at),
    ):
        if when is not None:
            rows.append((label, format_time(when)))
    if hook.last_error:
        rows.append(("last error", hook.last_error))
    for label, value in rows:
        print(f"{label + ':':<17}{value}")


def cmd_show(ctx: Context) -> int:
    with ctx.client() as client:
        _show(ctx, client.webhook(ctx.args.name))
    return 0


def _switch(ctx: Context, enabled: bool) -> int:
    with ctx.client() as client:
        hook = client.update_webhook(ctx.args.name, enabled=enabled)
    if ctx.json:
        print_json(hook.model_dump(mode="json"))
    else:
        print(f"webhook {hook.name} {'enabled' if hook.enabled else 'disabled'}")
    return 0


def cmd_enable(ctx: Context) -> int:
    return _switch(ctx, True)


def cmd_disable(ctx: Context) -> int:
    return _switch(ctx, False)


def cmd_remove(ctx: Context) -> int:
    with ctx.client() as client:
        gone = client.remove_webhook(ctx.args.name)
    if ctx.json:
        print_json(gone.model_dump(mode="json"))
    else:
        print(f"webhook {gone.name} removed ({gone.backlog} event(s) were waiting)")
    return 0


def cmd_test(ctx: Context) -> int:
    with ctx.client() as client:
        answer = client.test_webhook(ctx.args.name)
    if ctx.json:
        print_json(answer.model_dump(mode="json"))
    elif answer.delivered:
        print(f"delivered ({answer.delivery})")
    else:
        print(f"not delivered ({answer.delivery}): {answer.error}")
    return 0 if answer.delivered else 1
