"""OutboxMessage: a notification this site owes an outside receiver (a staging job's
``notify_url``), written in the same transaction as the change it announces and
delivered by a task, signed, with backoff, until answered 2xx or out of time.

``key`` is unique: one row per outcome, however often the outcome is reached.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from librarian_server.orm.base import Base, UTCDateTime, utcnow


class OutboxMessage(Base):
    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "delivered_time", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(256), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    url: Mapped[str] = mapped_column(String(2048))
    body: Mapped[str] = mapped_column(Text, doc="The exact bytes sent (and signed).")
    signer: Mapped[str] = mapped_column(String(128), doc="Whose secret signs it.")
    created_time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_time: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(default=0)
    delivered_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    abandoned: Mapped[bool] = mapped_column(default=False)
    last_error: Mapped[str | None] = mapped_column(Text)
