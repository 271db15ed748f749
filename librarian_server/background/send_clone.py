"""send_clone: queue what each peer lacks, then send the pending batches."""

from __future__ import annotations

from typing import Any

from librarian_server.background.task import Task, TaskContext
from librarian_server.services.replication import send_plan
from librarian_server.services.replication.clone_send import Sender


def sender(ctx: TaskContext) -> Sender:
    return Sender(ctx.factory, ctx.settings, ctx.managers, ctx.dialer, ctx.worker)


class SendClone(Task):
    name = "send_clone"

    def run(self, ctx: TaskContext) -> dict[str, Any]:
        queued = batches = sent = failed = postponed = waiting = 0
        with ctx.factory() as session:
            peers = send_plan.pushing_peers(session)
        for peer in peers:
            planned = send_plan.plan(
                ctx.factory,
                peer,
                ctx.settings,
                batch_size=ctx.batch_size,
                limit=ctx.batch_size * 10,
            )
            queued += planned["queued"]
        out = sender(ctx)
        while not ctx.out_of_time() and (result := out.send_next()) is not None:
            batches += 1
            sent += result.get("sent", 0) + result.get("submitted", 0)
            failed += result.get("failed", 0) + result.get("retried", 0)
            postponed += result.get("postponed", 0)
            waiting += result.get("waiting", 0)  # their peer is unreachable: it backs off
        return {
            "queued": queued,
            "batches": batches,
            "sent": sent,
            "failed": failed,
            "postponed": postponed,
            "waiting": waiting,
        }
