"""Every background task, in the order a single runner starts them."""

from __future__ import annotations

from .cleanup import Cleanup
from .consume_queue import ConsumeQueue
from .hypervisor import Hypervisor
from .receive_clone import ReceiveClone
from .send_checkins import SendCheckins
from .send_clone import SendClone
from .task import Task


def all_tasks() -> list[Task]:
    return [SendClone(), ConsumeQueue(), ReceiveClone(), SendCheckins(), Hypervisor(), Cleanup()]
