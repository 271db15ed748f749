"""Checkin: news this site owes another site, kept until it is delivered.

Mostly a confirmation for a sender: a cloned file committed (or finally refused)
after the sender stopped waiting, e.g. verified in the background or carried on a
disk. Or a notice for a file's origin that a third site (``holder``) now holds it,
so the origin's catalogue shows every copy. The send_checkins task delivers them
in batches, with backoff, across restarts.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from librarian_server.orm.base import NAME_TYPE, Base, UTCDateTime, utcnow


class Checkin(Base):
    __tablename__ = "checkins"
    __table_args__ = (Index("ix_checkins_pending", "destination", "delivered", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    destination: Mapped[str] = mapped_column(String(64))
    source_transfer_id: Mapped[int | None] = mapped_column(BigInteger)
    holder: Mapped[str | None] = mapped_column(String(64), doc="A notice: this site holds it.")
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
