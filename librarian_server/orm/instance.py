"""Instance: one copy of a File on one of this site's stores."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import NAME_TYPE, Base, UTCDateTime, utcnow

if TYPE_CHECKING:
    from .file import File
    from .store import Store


class Instance(Base):
    __tablename__ = "instances"
    __table_args__ = (UniqueConstraint("store_id", "path"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    file_name: Mapped[str] = mapped_column(
        NAME_TYPE, ForeignKey("files.name", ondelete="CASCADE"), index=True
    )
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), index=True)
    path: Mapped[str] = mapped_column(String(2048))
    available: Mapped[bool] = mapped_column(default=True)
    created_time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    file: Mapped[File] = relationship(back_populates="instances")
    store: Mapped[Store] = relationship()
