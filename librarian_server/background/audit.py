"""audit: re-hash copies that are due and walk the stores for dark and missing files."""

from __future__ import annotations

from typing import Any

from librarian_server.background.task import Task, TaskContext
from librarian_server.services.site.upkeep import audit_all, audit_policy


class Audit(Task):
    name = "audit"

    def run(self, ctx: TaskContext) -> dict[str, Any]:
        policy = audit_policy(ctx.settings, ctx.batch_size)
        results = audit_all(ctx.factory, policy, seconds=max(ctx.time_left(), 0))
        return {
            "rehashed": sum(r.rehashed for r in results),
            "bytes": sum(r.bytes for r in results),
            "damaged": sum(r.damaged for r in results),
            "dark": sum(r.dark for r in results),
            "missing": sum(r.missing for r in results),
            "walked": sum(r.walked for r in results),
        }
