"""``librarian sneakernet export | ingest | status | requeue``: disks carried by hand."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from librarian_client.cli.context import CLIError, Context
from librarian_client.cli.output import (
    format_size,
    format_time,
    print_json,
    print_table,
)
from librarian_client.cli.progress import Progress
from librarian_client.models import DiskEvent, ExportSummary, IngestSummary

STOPPED = {
    "complete": "every file the peer lacked is on the disk",
    "disk_full": "the disk is full",
    "max_bytes": "--max-bytes reached",
    "interrupted": "interrupted",
    "nothing_to_send": "the peer lacks nothing",
}


def _follow(ctx: Context, events: Iterator[DiskEvent], what: str) -> DiskEvent:
    """Drive a progress bar from the server's events; return the final one."""
    bar: Progress | None = None
    done_bytes = done_files = 0
    with contextlib.ExitStack() as stack:
        for event in events:
            if event.event == "start":
                total_bytes, total_files = event.total_bytes or 0, event.total_files or 0
                bar = stack.enter_context(ctx.progress(total_bytes, total_files, what))
            elif bar is not None and event.event == "progress":
                # Only progress lines carry counts: the final line's zeros would send the
                # bar back to 0 % just as the work ends.
                bar(event.bytes - done_bytes, event.files - done_files)
                done_bytes, done_files = event.bytes, event.files
            if event.event == "done":
                return event
    raise CLIError(f"The server stopped the {what} without a summary.", "See the server log.")


def cmd_export(ctx: Context) -> int:
    args = ctx.args
    with ctx.client() as client:
        final = _follow(
            ctx, client.sneakernet_export(args.peer, args.to, max_bytes=args.max_bytes), "export"
        )
    summary = final.export
    assert summary is not None  # noqa: S101 - a done event of an export carries it
    if ctx.json:
        print_json(summary.model_dump(mode="json"))
        return 0
    _print_export(summary)
    return 0


def _print_export(s: ExportSummary) -> None:
    if s.stopped == "nothing_to_send":
        print(f"nothing to export: {s.peer} lacks no file that is not already on its way")
        return
    print(f"disk {s.label}: {s.files} files, {format_size(s.bytes)} for {s.peer} at {s.path}")
    print(f"stopped: {STOPPED[s.stopped]}")
    if s.left:
        print(f"{s.left} files still to send: export another disk to continue")
    for problem in s.problems:
        print(f"not written: {problem.name}: {problem.reason}")


def cmd_ingest(ctx: Context) -> int:
    with ctx.client() as client:
        events = client.sneakernet_ingest(ctx.args.path, accept_unsigned=ctx.args.accept_unsigned)
        final = _follow(ctx, events, "ingest")
    summary = final.ingest
    assert summary is not None  # noqa: S101 - a done event of an ingest carries it
    if ctx.json:
        print_json(summary.model_dump(mode="json"))
    else:
        _print_ingest(summary)
    problems = len(summary.bad) + len(summary.missing) + len(summary.conflicts)
    if problems:
        raise CLIError(
            f"{problems} of {summary.files} files on the disk were not ingested.",
            "They are reported to the source site, which will send them again.",
        )
    return 0


def _print_ingest(s: IngestSummary) -> None:
    print(f"disk {', '.join(s.labels)}: {s.files} files listed")
    print_table(
        ("COMMITTED", "ALREADY HERE", "BAD", "MISSING", "CONFLICTS"),
        [(str(s.committed), str(s.already_present), str(len(s.bad)), str(len(s.missing)),
          str(len(s.conflicts)))],
    )  # fmt: skip
    for problem in s.unverified:
        print(f"WARNING: {problem.name} was ingested by override although {problem.reason}")
    for kind, problems in (("bad", s.bad), ("missing", s.missing), ("conflict", s.conflicts)):
        for problem in problems:
            print(f"{kind}: {problem.name}: {problem.reason}")


def cmd_status(ctx: Context) -> int:
    with ctx.client() as client:
        disks = client.sneakernet_disks()
    if ctx.json:
        print_json([d.model_dump(mode="json") for d in disks])
        return 0
    if not disks:
        print("no disks out")
        return 0
    rows = [
        (
            d.label,
            d.destination,
            format_time(d.created_time),
            str(d.files),
            format_size(d.bytes),
            str(d.confirmed),
            str(d.unconfirmed) + (" OVERDUE" if d.overdue else ""),
            str(d.returned),
        )
        for d in disks
    ]
    headers = ("DISK", "FOR", "WRITTEN", "FILES", "BYTES", "CONFIRMED", "UNCONFIRMED", "RETURNED")
    print_table(headers, rows)
    return 0


def cmd_requeue(ctx: Context) -> int:
    with ctx.client() as client:
        done = client.sneakernet_requeue(ctx.args.label, overdue_only=ctx.args.overdue_only)
    if ctx.json:
        print_json(done.model_dump(mode="json"))
    else:
        print(f"disk {done.label}: {done.requeued} unconfirmed files will be sent another way")
    return 0
