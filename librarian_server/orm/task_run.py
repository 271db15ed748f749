"""TaskRun: the last run of each background task, with counts, for operators.

One row per task, written after every run by whichever process ran it, so the dashboard
and the API show the same state whether tasks run in the server or in their own process.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from librarian_server.orm.base import Base, UTCDateTime


class TaskRun(Base):
    __tablename__ = "task_runs"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_started: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seconds: Mapped[float] = mapped_column(Float)
    last_ok: Mapped[bool]
    last_summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_failure_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    runs: Mapped[int] = mapped_column(BigInteger, default=0)
    failures: Mapped[int] = mapped_column(BigInteger, default=0)
