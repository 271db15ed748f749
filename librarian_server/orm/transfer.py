"""IncomingTransfer: the life of one file's arrival, by upload or from a peer (a clone)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from librarian_client.models import TransferStatus
from librarian_server.orm.base import Base, UTCDateTime, str_enum, utcnow


class IncomingTransfer(Base):
    __tablename__ = "incoming_transfers"
    __table_args__ = (Index("ix_incoming_transfers_peer_source", "peer", "source_transfer_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(1024), index=True)
    status: Mapped[TransferStatus] = mapped_column(
        str_enum(TransferStatus, 32),
        index=True,
    )
    expected_size: Mapped[int] = mapped_column(BigInteger)
    expected_checksum: Mapped[str | None] = mapped_column(String(256))
    checksum_algorithm: Mapped[str] = mapped_column(String(32))
    received_size: Mapped[int | None] = mapped_column(BigInteger)
    received_checksum: Mapped[str | None] = mapped_column(String(256))
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), index=True)
    staging_path: Mapped[str] = mapped_column(String(2048), doc="Where the bytes wait.")
    store_path: Mapped[str] = mapped_column(String(2048))
    transfer_manager: Mapped[str] = mapped_column(String(32), default="http")
    uploader: Mapped[str | None] = mapped_column(String(256))
    source: Mapped[str] = mapped_column(String(256))
    created_time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    error: Mapped[str | None] = mapped_column(Text)
    # Clones only: the sending site, its OutgoingTransfer id (the idempotency key) and
    # the file's original uploader (``uploader`` is the peer account that may act on it).
    peer: Mapped[str | None] = mapped_column(String(64))
    source_transfer_id: Mapped[int | None] = mapped_column(BigInteger)
    origin_uploader: Mapped[str | None] = mapped_column(String(256))
