"""``librarian verify``, ``damage`` and ``repair``: prove copies now, see what audits
found, and repair a damaged copy on request."""

from __future__ import annotations

import sys
from collections.abc import Iterator

from librarian_client.cli.context import CLIError, Context
from librarian_client.cli.output import (
    format_row,
    format_time,
    print_json,
    print_json_array,
    print_table,
)
from librarian_client.models import MAX_VERIFY_FILES, CopyCheck, DamageInfo, VerifyResponse

_WIDTHS = (10, 12)


def cmd_verify(ctx: Context) -> int:
    args = ctx.args
    if bool(args.names) == (args.prefix is not None):
        raise CLIError(
            "Name the files to verify, or give --prefix, not both.",
            "e.g. `librarian verify NAME` or `librarian verify --prefix obs/`.",
        )
    if args.page_size > MAX_VERIFY_FILES:
        raise CLIError(
            f"--page-size may be at most {MAX_VERIFY_FILES}.", "Give a smaller --page-size."
        )
    found = _Tally()
    with ctx.client() as client:
        pages = client.verify(args.names, prefix=args.prefix, page_size=args.page_size)
        if ctx.json:
            print_json_array(c.model_dump(mode="json") for c in found.checks(pages))
        else:
            print(format_row(("FINDING", "STORE", "NAME"), _WIDTHS))
            for check in found.checks(pages):
                print(format_row((check.finding, check.store, check.name), _WIDTHS))
                if check.detail:
                    print(f"    {check.detail}")
    for name in found.without_copy:
        ctx.warn(f"{name}: no copy on this site's stores")
    if found.bad:
        copies = "copy" if found.bad == 1 else "copies"
        print(f"librarian: {found.bad} {copies} not ok, of {found.files} files", file=sys.stderr)
        return 1
    if not ctx.json:
        print(f"{found.files} files verified, every copy ok", file=sys.stderr)
    return 0


class _Tally:
    """What the pages held, counted as they stream past."""

    def __init__(self) -> None:
        self.files = 0
        self.bad = 0
        self.without_copy: list[str] = []

    def checks(self, pages: Iterator[VerifyResponse]) -> Iterator[CopyCheck]:
        for page in pages:
            self.files += page.files
            self.without_copy.extend(page.without_copy)
            for check in page.copies:
                self.bad += check.finding != "ok"
                yield check


def cmd_damage(ctx: Context) -> int:
    args = ctx.args
    with ctx.client() as client:
        records = client.damage(
            state=args.state,
            active=True if args.active else None,
            store=args.store,
            kind=args.kind,
            limit=args.limit,
        )
        if ctx.json:
            print_json_array(d.model_dump(mode="json") for d in records)
            return 0
        rows = [_damage_row(d) for d in records]
    if not rows:
        print("no damage recorded", file=sys.stderr)
        return 0
    print_table(("ID", "STATE", "KIND", "STORE", "FOUND", "BY", "NAME", "RESOLUTION"), rows)
    return 0


def _damage_row(d: DamageInfo) -> tuple[str, ...]:
    return (
        str(d.id),
        str(d.state),
        str(d.kind),
        d.store,
        format_time(d.found_time),
        d.found_by,
        d.name if d.name is not None else f"(dark) {d.path}",
        d.resolution or d.detail,
    )


def cmd_repair(ctx: Context) -> int:
    with ctx.client() as client:
        record = client.repair(ctx.args.id)
    if ctx.json:
        print_json(record.model_dump(mode="json"))
    else:
        print(f"damage {record.id}: {record.state}: {record.resolution or record.detail}")
    return 0 if record.state in ("repaired", "gone") else 1
