"""hypervisor: settle transfers stuck past their deadline by asking the other side, and
announce sneakernet disks overdue."""

from __future__ import annotations

from typing import Any

from librarian_server.background.send_clone import sender
from librarian_server.background.task import Task, TaskContext
from librarian_server.services.replication import reconcile
from librarian_server.services.sneakernet import disks


class Hypervisor(Task):
    name = "hypervisor"

    def run(self, ctx: TaskContext) -> dict[str, Any]:
        orphans = reconcile.abandon_orphaned_batches(sender(ctx))
        sent = reconcile.reconcile_outgoing(
            ctx.factory, ctx.settings, ctx.dialer, limit=ctx.batch_size, out_of_time=ctx.out_of_time
        )
        received = reconcile.reconcile_incoming(
            ctx.factory, ctx.settings, ctx.dialer, limit=ctx.batch_size, out_of_time=ctx.out_of_time
        )
        with ctx.factory.begin() as session:
            overdue = disks.announce_overdue(session, ctx.settings, limit=ctx.batch_size)
        return {"orphaned_batches": orphans, **sent, **received, "overdue_disks": overdue}
