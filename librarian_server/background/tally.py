"""tally: fold new events into the per-day totals, and recount each store's copies now
and then, for the dashboard."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from librarian_server.background.task import Task, TaskContext
from librarian_server.services.site import stats


class Tally(Task):
    name = "tally"

    def run(self, ctx: TaskContext) -> dict[str, Any]:
        folded = 0
        while not ctx.out_of_time():
            with ctx.factory.begin() as session:
                n = stats.tally(session, limit=ctx.batch_size)
            folded += n
            if n < ctx.batch_size:
                break
        with ctx.factory.begin() as session:
            counted = stats.refresh_store_counts(
                session, audit_period=timedelta(days=ctx.settings.integrity.audit_period_days)
            )
        return {"events": folded, "stores_counted": counted}
