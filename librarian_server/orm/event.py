"""Event: what was done to the catalogue, by whom, when; kept for operators and audits.

Deletes were the first events recorded: a file's removal is the one catalogue change
that cannot be undone, so each leaves a row with what was deleted and why it was allowed.
Commits, confirmations, failures and administrators' actions followed, so that webhooks,
the pull API and the dashboard's tallies all read one log.

``seq`` is the order readers see. Ids are handed out when a row is inserted, but rows
become visible when their transaction commits, so a reader paging by id could pass an
id whose row appears later and never see it. ``seq`` is given only to committed rows,
in one serialised step (``EventSequence``), so paging by it misses nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Integer, String
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
    seq: Mapped[int | None] = mapped_column(BigInteger, unique=True)


class EventSequence(Base):
    """One row: the last ``seq`` given; locked while giving more."""

    __tablename__ = "event_sequence"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)
