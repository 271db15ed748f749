"""Checkin: a confirmation this site owes a source site, kept until it is delivered.

Written when a cloned file is committed (or finally refused) after the sender
stopped waiting, e.g. verified in the background or carried on a disk. The
send_checkins task delivers them in batches, with backoff, across restarts.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import NAME_TYPE, Base, UTCDateTime, utcnow


class Checkin(Base):
    __tablename__ = "checkins"
    __table_args__ = (Index("ix_checkins_pending", "destination", "delivered", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    destination: Mapped[str] = mapped_column(String(64))
    source_transfer_id: Mapped[int] = mapped_column(BigInteger)
    file_name: Mapped[str] = mapped_column(NAME_TYPE)
    checksum: Mapped[str | None] = mapped_column(String(256))
    committed: Mapped[bool] = mapped_column(doc="True: the copy is here; False: refused.")
    reason: Mapped[str | None] = mapped_column(Text)
    delivered: Mapped[bool] = mapped_column(default=False)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
