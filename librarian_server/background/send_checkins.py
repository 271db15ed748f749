"""send_checkins: deliver the confirmations this site owes to source sites."""

from __future__ import annotations

from typing import Any

from librarian_server.background.task import Task, TaskContext
from librarian_server.services.replication.checkins import deliver_checkins


class SendCheckins(Task):
    name = "send_checkins"

    def run(self, ctx: TaskContext) -> dict[str, Any]:
        return deliver_checkins(
            ctx.factory, ctx.settings, ctx.dialer, limit=ctx.batch_size, out_of_time=ctx.out_of_time
        )
