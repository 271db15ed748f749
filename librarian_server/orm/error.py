"""ErrorRecord: what failed, where, for operators (kept even when a request fails).

Every record is an error; its category and caller say where it happened.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from librarian_server.orm.base import Base, UTCDateTime, str_enum, utcnow


class ErrorCategory(StrEnum):
    UPLOAD = "upload"
    STORE = "store"
    REPLICATION = "replication"
    BACKGROUND = "background"


class ErrorRecord(Base):
    __tablename__ = "errors"

    id: Mapped[int] = mapped_column(primary_key=True)
    category: Mapped[ErrorCategory] = mapped_column(
        str_enum(ErrorCategory, 32),
        index=True,
    )
    message: Mapped[str] = mapped_column(Text)
    caller: Mapped[str] = mapped_column(String(256), default="")
    created_time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
