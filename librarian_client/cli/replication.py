"""``librarian transfers``, ``queues``, ``peers`` and ``tasks``: replication at a glance."""

from __future__ import annotations

from datetime import UTC, datetime

from librarian_client.cli.context import CLIError, Context
from librarian_client.cli.output import (
    format_size,
    format_time,
    print_json,
    print_json_array,
    print_table,
)
from librarian_client.models import Direction, PeerHealth, PeerInfo, TransferRow, TransferStatus


def format_age(when: datetime, now: datetime | None = None) -> str:
    """How long ago, in the largest whole unit: 42s, 17m, 5h, 3d."""
    aware = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
    seconds = max(int(((now or datetime.now(UTC)) - aware).total_seconds()), 0)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def format_health(peer: PeerInfo) -> str:
    """ok; or e.g. 'backing-off (3 failures, next 14:02:11)'."""
    if peer.health is PeerHealth.OK:
        return "ok"
    detail = []
    if peer.consecutive_failures:
        detail.append(f"{peer.consecutive_failures} failure(s)")
    if peer.health is PeerHealth.BACKING_OFF and peer.next_attempt_after is not None:
        detail.append(f"next {format_time(peer.next_attempt_after)}")
    return f"{peer.health.value} ({', '.join(detail)})" if detail else peer.health.value


def _transfer_row(t: TransferRow) -> tuple[str, ...]:
    return (
        str(t.id),
        t.status.value,
        t.peer or "-",
        t.transfer_manager or "-",
        format_size(t.size),
        str(t.attempts),
        format_age(t.created_time),
        t.name,
        t.error or "",
    )


def cmd_transfers(ctx: Context) -> int:
    args = ctx.args
    direction = Direction.INCOMING if args.incoming else Direction.OUTGOING
    with ctx.client() as client:
        rows = client.transfers(
            direction=direction, status=args.status, peer=args.peer, limit=args.limit
        )
        if ctx.json:
            print_json_array(r.model_dump(mode="json") for r in rows)
            return 0
        headers = ("ID", "STATUS", "PEER", "VIA", "SIZE", "TRIES", "AGE", "NAME", "ERROR")
        print_table(headers, [_transfer_row(r) for r in rows])
    return 0


def cmd_transfer_action(ctx: Context) -> int:
    args = ctx.args
    if args.transfers_command == "retry" and args.transfer_id is None:
        return _retry_many(ctx)
    if args.retry_status is not None or args.retry_peer is not None:
        raise CLIError("Give either a transfer ID or --status/--peer, not both.")
    with ctx.client() as client:
        if args.transfers_command == "retry":
            done = client.retry_transfer(args.transfer_id)
        else:
            done = client.cancel_transfer(ctx.args.transfer_id)
    if ctx.json:
        print_json(done.model_dump(mode="json"))
    else:
        print(f"transfer {done.id}: {done.status.value}")
    return 0


def _retry_many(ctx: Context) -> int:
    args = ctx.args
    if args.retry_status is None and args.retry_peer is None:
        raise CLIError(
            "Give a transfer ID to retry one, or --status and/or --peer to retry many.",
            "e.g. `librarian transfers retry --status FAILED --peer SITE`.",
        )
    status = TransferStatus(args.retry_status or TransferStatus.FAILED.value)
    with ctx.client() as client:
        done = client.retry_transfers(status=status, peer=args.retry_peer, limit=args.retry_limit)
    if ctx.json:
        print_json(done.model_dump(mode="json"))
    else:
        where = f" to {args.retry_peer}" if args.retry_peer else ""
        skipped = f"; {done.skipped} skipped (already under way)" if done.skipped else ""
        print(f"requeued {done.requeued} {status.value} transfer(s){where}{skipped}")
    return 0


def cmd_queues(ctx: Context) -> int:
    with ctx.client() as client:
        queues = client.queues(status=ctx.args.status, peer=ctx.args.peer, limit=ctx.args.limit)
    if ctx.json:
        print_json([q.model_dump(mode="json") for q in queues])
        return 0
    rows = [
        (
            str(q.id),
            q.status,
            q.destination,
            q.transfer_manager or "-",
            f"{q.done_count}/{q.file_count}",
            str(q.failed_count),
            format_size(q.total_bytes),
            format_age(q.created_time),
            q.external_id or "",
            q.error or "",
        )
        for q in queues
    ]
    headers = ("ID", "STATUS", "PEER", "VIA", "DONE", "FAILED", "BYTES", "AGE", "TASK", "ERROR")
    print_table(headers, rows)
    return 0


def cmd_peers(ctx: Context) -> int:
    with ctx.client() as client:
        peers = client.peers()
    if ctx.json:
        print_json([p.model_dump(mode="json") for p in peers])
        return 0
    rows = [
        (
            p.name,
            ("forward" if p.forward else "yes") if p.push else "no",
            "yes" if p.enabled else "no",
            format_health(p),
            ",".join(p.transfer_managers) or "any",
            format_time(p.last_contact) if p.last_contact else "never",
            p.url,
            p.last_error or "",
        )
        for p in peers
    ]
    headers = ("NAME", "PUSH", "ENABLED", "HEALTH", "MANAGERS", "LAST CONTACT", "URL", "LAST ERROR")
    print_table(headers, rows)
    return 0


def cmd_tasks(ctx: Context) -> int:
    with ctx.client() as client:
        if ctx.args.tasks_command == "run":
            result = client.run_task(ctx.args.task_name)
            if ctx.json:
                print_json(result.model_dump(mode="json"))
            else:
                summary = ", ".join(f"{k} {v}" for k, v in result.summary.items()) or "nothing"
                state = "ok" if result.ok else f"FAILED: {result.error}"
                print(f"{result.name}: {state}; {summary} ({result.seconds:.2f} s)")
            return 0 if result.ok else 1
        tasks = client.tasks()
    if ctx.json:
        print_json([t.model_dump(mode="json") for t in tasks])
        return 0
    rows = [
        (
            t.name,
            "yes" if t.enabled else "no",
            f"{t.every_seconds:g}s",
            f"{t.time_limit_seconds:g}s",
            str(t.batch_size),
        )
        for t in tasks
    ]
    print_table(("TASK", "ENABLED", "EVERY", "TIME LIMIT", "BATCH"), rows)
    return 0
