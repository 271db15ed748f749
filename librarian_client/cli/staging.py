"""``librarian stage``: start, follow, list and cancel staging jobs."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from librarian_client.cli.context import CLIError, Context
from librarian_client.cli.output import format_time, print_json, print_table
from librarian_client.models import StagingJobInfo, StagingJobState

if TYPE_CHECKING:
    from librarian_client.client import LibrarianClient


def cmd_stage(ctx: Context) -> int:
    args = ctx.args
    picked = [
        bool(args.names),
        bool(args.prefix),
        bool(args.glob),
        bool(args.job),
        bool(args.cancel),
        bool(args.list),
    ]
    if sum(picked) != 1:
        raise CLIError(
            "Name the files (NAMES, --prefix or --glob), or give one of --job, --cancel, --list.",
            "e.g. `librarian stage --prefix obs/night1/ --wait`.",
        )
    with ctx.client() as client:
        if args.list:
            jobs = client.staging_jobs()
            if ctx.json:
                print_json([j.model_dump(mode="json") for j in jobs])
            elif not jobs:
                print("no staging jobs", file=sys.stderr)
            else:
                print_table(
                    ["JOB", "STATE", "READY", "ERROR", "TOTAL", "CREATED"],
                    [
                        [
                            j.id,
                            j.state,
                            j.counts.ready,
                            j.counts.error,
                            j.counts.total,
                            format_time(j.created_time),
                        ]
                        for j in jobs
                    ],
                    right=(2, 3, 4),
                )
            return 0
        if args.cancel:
            job = client.cancel_staging(args.cancel)
        elif args.job:
            job = client.staging_job(args.job)
        else:
            job = client.stage(
                args.names,
                prefix=args.prefix,
                glob=args.glob,
                notify_url=args.notify_url,
                expires_in_seconds=args.expires,
            )
            if not ctx.json:
                print(f"staging job {job.id}: {job.counts.total} file(s)", file=sys.stderr)
                if job.notify_secret:
                    print(f"notifications are signed with {job.notify_secret}", file=sys.stderr)
        if args.wait and job.state == StagingJobState.PENDING:
            job = _follow(ctx, client, job, args.interval)
    _report(ctx, job)
    return 1 if job.state == StagingJobState.FAILED else 0


def _follow(
    ctx: Context, client: LibrarianClient, job: StagingJobInfo, interval: float
) -> StagingJobInfo:
    from tqdm import tqdm

    enabled = not ctx.args.no_progress and sys.stderr.isatty()
    with tqdm(
        total=job.counts.total,
        initial=job.counts.ready + job.counts.error,
        desc="staging",
        unit="file",
        file=sys.stderr,
        disable=not enabled,
        dynamic_ncols=True,
    ) as bar:

        def show(current: StagingJobInfo) -> None:
            bar.update(current.counts.ready + current.counts.error - bar.n)
            bar.set_postfix_str(f"{current.counts.error} error(s)" if current.counts.error else "")

        return client.wait_staging(job.id, interval=interval, progress=show)


def _report(ctx: Context, job: StagingJobInfo) -> None:
    if ctx.json:
        print_json(job.model_dump(mode="json", exclude={"notify_secret"}))
        return
    c = job.counts
    line = f"job {job.id} {job.state}: {c.ready} ready, {c.pending} pending, {c.error} error"
    if job.reason:
        line += f" ({job.reason})"
    print(line)
