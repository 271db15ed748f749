"""cleanup: abandoned uploads and their bytes, orphaned staging, old history, VOSpace jobs,
old proof jobs."""

from __future__ import annotations

from typing import Any

from librarian_server.background.task import Task, TaskContext
from librarian_server.services.integrity.proof_jobs import prune_jobs
from librarian_server.services.replication.transfer_admin import prune_history
from librarian_server.services.site.maintenance import expire_idle_uploads
from librarian_server.services.vospace import jobs as vospace_jobs


class Cleanup(Task):
    name = "cleanup"

    def run(self, ctx: TaskContext) -> dict[str, Any]:
        expired, orphans = expire_idle_uploads(ctx.factory, ctx.settings)
        with ctx.factory.begin() as session:
            pruned = prune_history(session, days=ctx.settings.replication.history_days)
            proofs = prune_jobs(session, hours=ctx.settings.replication.proof_retention_hours)
        jobs = vospace_jobs.housekeeping(ctx.factory) if ctx.settings.vospace_enabled else 0
        return {
            "expired_uploads": expired,
            "orphan_staging": orphans,
            "vospace_jobs": jobs,
            "proof_jobs": proofs,
            **pruned,
        }
