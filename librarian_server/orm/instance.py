"""Instance: one copy of a File on one of this site's stores."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from librarian_client.models import CopyState
from librarian_server.orm.base import NAME_TYPE, Base, UTCDateTime, str_enum, utcnow

if TYPE_CHECKING:
    from librarian_server.orm.file import File
    from librarian_server.orm.store import Store


class Instance(Base):
    __tablename__ = "instances"
    __table_args__ = (
        UniqueConstraint("store_id", "path"),
        Index("ix_instances_store_verified", "store_id", "verified_time"),
        # A store's copies oldest first, keyset-paged: what release and tiering walk.
        Index("ix_instances_store_age", "store_id", "created_time", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    file_name: Mapped[str] = mapped_column(
        NAME_TYPE, ForeignKey("files.name", ondelete="CASCADE"), index=True
    )
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), index=True)
    path: Mapped[str] = mapped_column(String(2048))
    available: Mapped[bool] = mapped_column(default=True)
    created_time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set by whoever last hashed the bytes (a send, an audit). A BAD copy is never
    # served or sent again; None means not checked since it was written.
    verified_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    verified_result: Mapped[CopyState | None] = mapped_column(str_enum(CopyState, 8))
    verified_by: Mapped[str | None] = mapped_column(String(128))
    verified_detail: Mapped[str | None] = mapped_column(Text)

    file: Mapped[File] = relationship(back_populates="instances")
    store: Mapped[Store] = relationship()
