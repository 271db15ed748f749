"""prove_copies: run the proof jobs peers asked of this site (re-hash the named copies)."""

from __future__ import annotations

from typing import Any

from librarian_server.background.task import Task, TaskContext
from librarian_server.services.integrity.proof_jobs import run_pending


class ProveCopies(Task):
    name = "prove_copies"

    def run(self, ctx: TaskContext) -> dict[str, Any]:
        return run_pending(
            ctx.factory,
            worker=ctx.worker,
            seconds=ctx.settings.replication.claim_seconds,
            site=ctx.settings.site_name,
            out_of_time=ctx.out_of_time,
        )
