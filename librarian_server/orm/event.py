"""Event: what was done to the catalogue, by whom, when; kept for operators and audits.

Deletes are the first events recorded: a file's removal is the one catalogue change
that cannot be undone, so each leaves a row with what was deleted and why it was allowed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from librarian_server.orm.base import NAME_TYPE, Base, UTCDateTime, utcnow


class Event(Base):
    __tablename__ = "events"

    id: Mapped[int] = mapped_column(primary_key=True)
    time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    kind: Mapped[str] = mapped_column(String(64), index=True)
    actor: Mapped[str] = mapped_column(String(256))
    subject: Mapped[str] = mapped_column(NAME_TYPE, index=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
