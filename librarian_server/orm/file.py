"""File: one logical, immutable file, unique by name."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from librarian_server.orm.base import NAME_TYPE, Base, UTCDateTime, utcnow

if TYPE_CHECKING:
    from librarian_server.orm.instance import Instance


class File(Base):
    __tablename__ = "files"

    # Byte-order collation on PostgreSQL: prefix ranges, LIKE 'p%' and keyset paging
    # then use the primary-key index and agree with SQLite's ordering.
    name: Mapped[str] = mapped_column(NAME_TYPE, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger, index=True)
    checksum: Mapped[str] = mapped_column(String(256))
    uploader: Mapped[str] = mapped_column(String(256), index=True)
    source: Mapped[str] = mapped_column(String(256))
    created_time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    instances: Mapped[list[Instance]] = relationship(
        back_populates="file", order_by="Instance.id", cascade="all, delete-orphan"
    )
