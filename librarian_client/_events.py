"""The site's event log: read a page after a cursor, or follow it as events happen.

A mixin of ``LibrarianClient``; it relies only on the client's ``_call``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from librarian_client import models
from librarian_client.limits import API_PREFIX as API

if TYPE_CHECKING:
    from pydantic import BaseModel

M = TypeVar("M", bound="BaseModel")

FOLLOW_WAIT = 30.0
"""Seconds each long poll of ``follow_events`` may wait: well inside the client's timeout."""


class EventsMixin:
    timeout: float

    def _call(self, model: type[M], method: str, path: str, **kwargs: Any) -> M:
        raise NotImplementedError

    def events(
        self, after: int = 0, kinds: Iterable[str] = (), limit: int = 100, wait: float = 0
    ) -> models.EventList:
        """Events after ``after`` (oldest first, at most ``limit``) and the ``next`` cursor;
        with ``wait``, the server holds the answer up to that many seconds for one to come.
        ``kinds`` keeps only those kinds (``"admin.*"``: a family)."""
        params: dict[str, Any] = {"after": after, "limit": limit}
        chosen = ",".join(kinds)
        if chosen:
            params["kinds"] = chosen
        if wait:
            params["wait"] = wait
        # The request may last as long as the wait, and then as long as any other.
        timeout = self.timeout + wait
        return self._call(models.EventList, "GET", f"{API}/events", params=params, timeout=timeout)

    def follow_events(
        self, after: int = 0, kinds: Iterable[str] = (), *, wait: float = FOLLOW_WAIT
    ) -> Iterator[models.EventInfo]:
        """Every event after ``after`` as it happens, forever (long polls, one after
        another); stop by leaving the loop."""
        chosen = list(kinds)
        cursor = after
        while True:
            page = self.events(cursor, chosen, limit=models.MAX_EVENT_PAGE, wait=wait)
            yield from page.events
            cursor = page.next
