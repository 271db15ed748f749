"""consume_queue: poll batches handed to asynchronous managers (Globus) and finish them."""

from __future__ import annotations

from typing import Any

from librarian_server.background.send_clone import sender
from librarian_server.background.task import Task, TaskContext


class ConsumeQueue(Task):
    name = "consume_queue"

    def run(self, ctx: TaskContext) -> dict[str, Any]:
        out = sender(ctx)
        counts = {"polled": 0, "confirmed": 0, "failed": 0}
        polled: set[int] = set()  # each batch once per run
        for _ in range(ctx.batch_size):
            if ctx.out_of_time() or (result := out.poll_next(polled)) is None:
                break
            counts["polled"] += 1
            counts["confirmed"] += result.get("confirmed", 0)
            counts["failed"] += result.get("failed", 0) + result.get("retried", 0)
        return counts
