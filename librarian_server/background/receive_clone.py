"""receive_clone: verify and commit clones whose senders did not wait for the hashing."""

from __future__ import annotations

from typing import Any

from librarian_server.background.task import Task, TaskContext
from librarian_server.services.replication.clone_receive import verify_deferred


class ReceiveClone(Task):
    name = "receive_clone"

    def run(self, ctx: TaskContext) -> dict[str, Any]:
        return verify_deferred(ctx.factory, limit=ctx.batch_size, out_of_time=ctx.out_of_time)
