"""Every background task, in the order a single runner starts them."""

from __future__ import annotations

from librarian_server.background.audit import Audit
from librarian_server.background.cleanup import Cleanup
from librarian_server.background.consume_queue import ConsumeQueue
from librarian_server.background.deliver_outbox import DeliverOutbox
from librarian_server.background.deliver_webhooks import DeliverWebhooks
from librarian_server.background.hypervisor import Hypervisor
from librarian_server.background.prove_copies import ProveCopies
from librarian_server.background.receive_clone import ReceiveClone
from librarian_server.background.release import Release
from librarian_server.background.repair import Repair
from librarian_server.background.send_checkins import SendCheckins
from librarian_server.background.send_clone import SendClone
from librarian_server.background.staging import Staging
from librarian_server.background.tally import Tally
from librarian_server.background.task import Task


def all_tasks() -> list[Task]:
    return [
        SendClone(),
        ConsumeQueue(),
        ReceiveClone(),
        SendCheckins(),
        ProveCopies(),
        Hypervisor(),
        Cleanup(),
        Audit(),
        Repair(),
        Release(),
        Staging(),
        DeliverOutbox(),
        Tally(),
        DeliverWebhooks(),
    ]
