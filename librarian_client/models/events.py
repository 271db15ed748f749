"""The site's event log as the pull API serves it: what happened, in reading order.

A reader keeps one number, the ``next`` of its last answer, and passes it back as
``after``: every event is then seen once, in order, however many processes add events
and however late their transactions commit.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from librarian_client.models.common import WireModel

MAX_EVENT_PAGE = 1000
"""Events one answer holds at most."""
MAX_EVENT_WAIT = 60.0
"""Seconds a long poll (``wait``) may last at most."""
MAX_EVENT_SEQ = 2**63 - 1


class EventInfo(WireModel):
    seq: int = Field(description="Reading order: pass the last one seen (or `next`) as `after`.")
    time: datetime = Field(description="When the change was made (UTC).")
    kind: str = Field(description="e.g. `file.committed`, `copy.confirmed`, `admin.user_created`.")
    actor: str = Field(description="Who or what made the change: a user, a task, `replication`.")
    subject: str = Field(description="What it was made to: a file name, a batch id, a disk label.")
    detail: dict[str, Any] = Field(description="Small, kind-specific facts; never secrets.")


class EventList(WireModel):
    events: list[EventInfo]
    next: int = Field(
        description="The cursor to pass as `after` next time; equal to `after` when nothing "
        "new was read, and past events of other kinds when `kinds` filtered them out."
    )
