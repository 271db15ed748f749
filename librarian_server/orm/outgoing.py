"""OutgoingTransfer and SendQueue: one file's journey to a peer, and the batch it travels in."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from librarian_client.models import TransferStatus
from librarian_server.orm.base import NAME_TYPE, Base, UTCDateTime, str_enum, utcnow
from librarian_server.orm.statuses import OUTGOING_LIVE, status_in_sql

_LIVE_SQL = status_in_sql(OUTGOING_LIVE)


class QueueStatus(StrEnum):
    PENDING = "PENDING"
    ONGOING = "ONGOING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"


class SendQueue(Base):
    """A batch handed to one transfer manager at once (one Globus task for many files)."""

    __tablename__ = "send_queues"

    id: Mapped[int] = mapped_column(primary_key=True)
    destination: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[QueueStatus] = mapped_column(str_enum(QueueStatus, 16), index=True)
    transfer_manager: Mapped[str | None] = mapped_column(String(32))
    external_id: Mapped[str | None] = mapped_column(String(256))
    submission_id: Mapped[str | None] = mapped_column(String(64))
    file_count: Mapped[int] = mapped_column(default=0)
    total_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    done_count: Mapped[int] = mapped_column(default=0)
    failed_count: Mapped[int] = mapped_column(default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(Text)
    created_time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    completed_time: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OutgoingTransfer(Base):
    __tablename__ = "outgoing_transfers"
    __table_args__ = (
        # At most one live transfer of a file to a peer, whichever process creates it.
        Index(
            "uq_outgoing_transfers_live",
            "file_name",
            "destination",
            unique=True,
            postgresql_where=text(_LIVE_SQL),
            sqlite_where=text(_LIVE_SQL),
        ),
        Index("ix_outgoing_transfers_destination_status", "destination", "status"),
        # "Is this file on its way to that peer?", asked once per file when planning.
        Index("ix_outgoing_transfers_file_destination", "file_name", "destination", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    file_name: Mapped[str] = mapped_column(NAME_TYPE, ForeignKey("files.name", ondelete="CASCADE"))
    destination: Mapped[str] = mapped_column(String(64))
    status: Mapped[TransferStatus] = mapped_column(str_enum(TransferStatus, 32), index=True)
    transfer_manager: Mapped[str | None] = mapped_column(String(32))
    send_queue_id: Mapped[int | None] = mapped_column(
        ForeignKey("send_queues.id", ondelete="SET NULL"), index=True
    )
    remote_transfer_id: Mapped[int | None] = mapped_column(BigInteger)
    size: Mapped[int] = mapped_column(BigInteger)
    checksum: Mapped[str] = mapped_column(String(256))
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    external_id: Mapped[str | None] = mapped_column(String(256))
    error: Mapped[str | None] = mapped_column(Text)
    created_time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    completed_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
