"""DailyTally: files and bytes per day and kind, kept from the event log.

The dashboard shows totals and growth on catalogues of millions of files; counting the
files table per page view would scan it. The ``tally`` task folds each new event into
these rows instead (``kind`` committed / deleted with ``key`` "", or confirmed with
``key`` the peer), and ``TallyWatermark`` remembers the last event folded in.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from librarian_server.orm.base import Base, UTCDateTime


class DailyTally(Base):
    __tablename__ = "daily_tallies"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(256), primary_key=True, default="")
    files: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)


class TallyWatermark(Base):
    __tablename__ = "tally_watermark"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)


class StoreSnapshot(Base):
    """Per store: copies, their bytes, and how many were proven lately; counted by the
    ``tally`` task at most every few minutes, so the stores page reads one row per store."""

    __tablename__ = "store_snapshots"

    store_id: Mapped[int] = mapped_column(
        ForeignKey("stores.id", ondelete="CASCADE"), primary_key=True
    )
    taken_time: Mapped[datetime] = mapped_column(UTCDateTime)
    copies: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    verified_recently: Mapped[int] = mapped_column(BigInteger, default=0)
    verified_bad: Mapped[int] = mapped_column(BigInteger, default=0)
    never_verified: Mapped[int] = mapped_column(BigInteger, default=0)
