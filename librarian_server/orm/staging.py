"""Staging from a cold store: what was asked of the tape system, and who is waiting.

A ``StagedCopy`` is one copy on a cold store that someone wants on disk: asked for,
then ready (and pinned there for a while), or failed. Several jobs may want one copy:
each ``StagingJobFile`` points at it, so the copy is staged once and completes every
job waiting on it at the same moment.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from librarian_client.models import StagedFileState, StagingJobState
from librarian_server.orm.base import NAME_TYPE, Base, UTCDateTime, str_enum, utcnow


class StagedCopy(Base):
    __tablename__ = "staged_copies"
    __table_args__ = (
        Index("ix_staged_copies_state", "store_id", "state", "last_request_time"),
        Index("ix_staged_copies_pin", "state", "pinned_until"),
    )

    instance_id: Mapped[int] = mapped_column(
        ForeignKey("instances.id", ondelete="CASCADE"), primary_key=True
    )
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    file_name: Mapped[str] = mapped_column(NAME_TYPE)
    tape_path: Mapped[str] = mapped_column(String(2048), index=True)
    state: Mapped[StagedFileState] = mapped_column(str_enum(StagedFileState, 16))
    requested_time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # None: not yet asked of the tape system (the staging round asks in batches).
    last_request_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    requests: Mapped[int] = mapped_column(default=0)
    # When the tape system was last asked about it (polling, when no event came).
    checked_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ready_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    pinned_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(Text)


class StagingJob(Base):
    __tablename__ = "staging_jobs"
    __table_args__ = (Index("ix_staging_jobs_state", "state", "expires_time"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    owner: Mapped[str] = mapped_column(String(128), index=True)
    origin: Mapped[str] = mapped_column(
        String(16), doc="user: asked for; read: a download or VOSpace read; replication."
    )
    state: Mapped[StagingJobState] = mapped_column(str_enum(StagingJobState, 16))
    notify_url: Mapped[str | None] = mapped_column(String(2048))
    created_time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_time: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    retain_until: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(Text)


class StagingJobFile(Base):
    __tablename__ = "staging_job_files"
    __table_args__ = (
        UniqueConstraint("job_id", "file_name"),
        Index("ix_staging_job_files_copy", "instance_id", "state"),
        Index("ix_staging_job_files_job_state", "job_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("staging_jobs.id", ondelete="CASCADE"))
    file_name: Mapped[str] = mapped_column(NAME_TYPE)
    # The cold copy being staged for it; None when the file was on disk already.
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("instances.id", ondelete="SET NULL"))
    state: Mapped[StagedFileState] = mapped_column(str_enum(StagedFileState, 16))
    ready_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(Text)
