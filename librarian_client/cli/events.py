"""``librarian events``: read the site's event log, or follow it."""

from __future__ import annotations

import json
import sys

from librarian_client.cli.context import Context
from librarian_client.cli.output import format_time, print_json
from librarian_client.models import MAX_EVENT_PAGE, EventInfo


def cmd_events(ctx: Context) -> int:
    args = ctx.args
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    with ctx.client() as client:
        if args.follow:
            for event in client.follow_events(args.after, kinds):
                _print(ctx, event)
            return 0  # pragma: no cover - the loop ends only by an interruption
        page = client.events(args.after, kinds, limit=min(args.limit, MAX_EVENT_PAGE))
    if ctx.json:
        print_json(page.model_dump(mode="json"))
        return 0
    for event in page.events:
        _print(ctx, event)
    if not page.events:
        print("no events", file=sys.stderr)
    print(f"next: --after {page.next}", file=sys.stderr)
    return 0


def _print(ctx: Context, event: EventInfo) -> None:
    """One line per event; with ``--json`` (when following) one JSON object per line."""
    if ctx.json:
        line = json.dumps(event.model_dump(mode="json"), sort_keys=True)
    else:
        line = (
            f"{event.seq}  {format_time(event.time)}  {event.kind}  {event.subject}  {event.actor}"
        )
    print(line, flush=True)
