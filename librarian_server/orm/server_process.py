"""ServerProcess: one running API process, so that clean-up knows who else may own bytes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from librarian_server.orm.base import Base, UTCDateTime, utcnow


class ServerProcess(Base):
    """A row per process that serves this catalogue; ``heartbeat`` is refreshed while it runs.

    A start-up clean-up that sees another live process may only remove what is past
    the staging timeout; alone, it may remove everything abandoned.
    """

    __tablename__ = "server_processes"

    id: Mapped[int] = mapped_column(primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    heartbeat: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
