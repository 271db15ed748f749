"""deliver_outbox: post the notifications owed to outside receivers (staging jobs)."""

from __future__ import annotations

from typing import Any

from librarian_server.background.task import Task, TaskContext
from librarian_server.services.core import outbox
from librarian_server.services.core.credentials import CredentialBox


class DeliverOutbox(Task):
    name = "deliver_outbox"

    def run(self, ctx: TaskContext) -> dict[str, Any]:
        return outbox.deliver(
            ctx.factory,
            CredentialBox.for_settings(ctx.settings),
            ctx.settings.cold,
            limit=ctx.batch_size,
            out_of_time=ctx.out_of_time,
        )
