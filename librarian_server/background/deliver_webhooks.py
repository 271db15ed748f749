"""deliver_webhooks: post new events to the subscribed receivers, a batch per POST."""

from __future__ import annotations

from typing import Any

from librarian_server.background.task import Task, TaskContext
from librarian_server.services.core import webhook_delivery
from librarian_server.services.core.credentials import CredentialBox


class DeliverWebhooks(Task):
    name = "deliver_webhooks"

    def run(self, ctx: TaskContext) -> dict[str, Any]:
        return webhook_delivery.deliver(
            ctx.factory,
            CredentialBox.for_settings(ctx.settings),
            ctx.settings.webhooks,
            limit=ctx.batch_size,
            out_of_time=ctx.out_of_time,
        )
