"""ProofJob: a peer's request that this site re-hash its copies of named files now.

Kept in the catalogue, not in memory, so that any worker of a multi-process site may
run it and any may answer its status; claimed like a send queue (``claimed_until``),
so a job a crashed worker left is taken up again once its claim expires.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from librarian_client.models import ProofState
from librarian_server.orm.base import Base, UTCDateTime, str_enum, utcnow


class ProofJob(Base):
    __tablename__ = "proof_jobs"
    __table_args__ = (Index("ix_proof_jobs_state_claim", "state", "claimed_until"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    caller: Mapped[str] = mapped_column(String(128), index=True, doc="Whose job it is.")
    state: Mapped[ProofState] = mapped_column(str_enum(ProofState, 16))
    names: Mapped[list[str]] = mapped_column(JSON)
    results: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
