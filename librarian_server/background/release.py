"""release: apply each store's release or tiering policy, a bounded batch per store a run.

The walk of each store resumes where the last run stopped (the cursor is kept by the
task), so copies blocked at the head of a store do not hide the rest behind them; a
walk that reaches the end starts again from the oldest next time. Delete policies ask
peers to prove their copies (``PeerProver``) before any copy here goes.
"""

from __future__ import annotations

from typing import Any

from librarian_client.models import MAX_RELEASE_PAGE, ReleaseRequest
from librarian_server.background.task import Task, TaskContext
from librarian_server.services.integrity.policies import policies
from librarian_server.services.integrity.release import release_page
from librarian_server.services.replication.proofs import PeerProver


class Release(Task):
    name = "release"

    def __init__(self) -> None:
        self._after: dict[str, str | None] = {}

    def run(self, ctx: TaskContext) -> dict[str, Any]:
        with ctx.factory() as session:
            stores = [p.store.name for p in policies(session)]
        prover = PeerProver(ctx.factory, ctx.dialer, ctx.settings)
        summary: dict[str, Any] = {"stores": len(stores), "judged": 0, "released": 0, "bytes": 0}
        for store in stores:
            judged = 0
            while judged < ctx.batch_size and not ctx.out_of_time():
                limit = min(ctx.batch_size - judged, MAX_RELEASE_PAGE)
                page = release_page(
                    ctx.factory,
                    ReleaseRequest(
                        store=store, dry_run=False, limit=limit, after=self._after.get(store)
                    ),
                    site_name=ctx.settings.site_name,
                    prover=prover,
                    by="release",
                    min_free_bytes=ctx.settings.min_free_bytes,
                )
                judged += len(page.candidates)
                summary["released"] += page.released
                summary["bytes"] += page.released_bytes
                self._after[store] = page.next
                if page.next is None:
                    break
            summary["judged"] += judged
        return summary
