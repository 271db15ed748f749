"""Keeping a claim on a row alive while its worker is busy with it.

A claimed row (a send batch, a proof job) carries ``claimed_by`` and ``claimed_until``;
a worker whose claim lapses is presumed dead and its row is taken up by another. Long
work renews the claim as it goes, at most every third of its length, so renewal costs
a write now and then, not one per file.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from librarian_server.orm import utcnow


class Lease:
    def __init__(
        self,
        factory: sessionmaker[Session],
        model: Any,
        row_id: int,
        worker: str,
        seconds: float,
    ) -> None:
        """``model`` is an ORM class with ``id``, ``claimed_by`` and ``claimed_until``."""
        self.factory = factory
        self.model = model
        self.row_id = row_id
        self.worker = worker
        self.seconds = seconds
        self._renewed = time.monotonic()

    def _mine(self) -> Any:
        return update(self.model).where(
            self.model.id == self.row_id, self.model.claimed_by == self.worker
        )

    def renew(self) -> None:
        if time.monotonic() - self._renewed < self.seconds / 3:
            return
        self._renewed = time.monotonic()
        with self.factory.begin() as session:
            session.execute(
                self._mine().values(claimed_until=utcnow() + timedelta(seconds=self.seconds))
            )

    def release(self, session: Session) -> None:
        session.execute(self._mine().values(claimed_until=None))
