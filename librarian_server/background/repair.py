"""repair: replace damaged copies from good ones (another store here, or a peer)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from librarian_server.background.task import Task, TaskContext
from librarian_server.services.site.upkeep import repair_due


class Repair(Task):
    name = "repair"

    def run(self, ctx: TaskContext) -> dict[str, Any]:
        if not ctx.settings.integrity.auto_repair:
            return {"skipped": "automatic repair is off (integrity.auto_repair)"}
        done = repair_due(
            ctx.factory,
            ctx.settings,
            ctx.dialer,
            limit=ctx.batch_size,
            seconds=max(ctx.time_left(), 0),
        )
        counts = Counter(str(d.state) for d in done)
        return {"attempted": len(done), **counts}
