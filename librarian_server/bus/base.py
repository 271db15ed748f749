"""Where the server learns that a tape system finished staging a file.

A tape system announces each file it staged (or failed to stage) on a message bus; the
server turns those announcements into files marked ready. The bus is behind this
interface so the consumer loop, its acknowledgement rules and its tests do not depend on
one broker.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable

from librarian_server.stores.tape.base import StageEvent

EventHandler = Callable[[list[StageEvent]], None]
"""Applies a batch of events (database work, committed before it returns). Must be
idempotent: delivery is at-least-once, so an event may come again after a crash."""


class EventSource(ABC):
    """A durable stream of stage events, consumed by one server."""

    last_event_time: float | None = None
    """``time.monotonic()`` when a batch was last handled, None before the first: lets a
    health check tell a quiet bus from a stuck consumer."""

    @abstractmethod
    def run(self, handle: EventHandler, stop: threading.Event) -> None:
        """Blocks until ``stop`` is set. Fetches events in batches and calls ``handle`` with
        each batch; acknowledges the batch's messages only after ``handle`` returned, so a
        crash in between means redelivery, never loss. If ``handle`` raises, the messages are
        negatively acknowledged with a delay and come again. A message that is not a
        StageEvent is logged and terminated, so it never loops."""

    @property
    @abstractmethod
    def connected(self) -> bool:
        """Whether the broker is reachable now (False while reconnecting)."""
