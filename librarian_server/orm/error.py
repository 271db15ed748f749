"""ErrorRecord: what failed, where, for operators (kept even when a request fails)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Enum, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UTCDateTime, utcnow


class ErrorSeverity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"


class ErrorCategory(StrEnum):
    UPLOAD = "upload"
    STORE = "store"
    STARTUP = "startup"
    AUTH = "auth"


class ErrorRecord(Base):
    __tablename__ = "errors"

    id: Mapped[int] = mapped_column(primary_key=True)
    severity: Mapped[ErrorSeverity] = mapped_column(
        Enum(
            ErrorSeverity,
            native_enum=False,
            length=16,
            values_callable=lambda e: [m.value for m in e],
        )
    )
    category: Mapped[ErrorCategory] = mapped_column(
        Enum(
            ErrorCategory,
            native_enum=False,
            length=32,
            values_callable=lambda e: [m.value for m in e],
        ),
        index=True,
    )
    message: Mapped[str] = mapped_column(Text)
    caller: Mapped[str] = mapped_column(String(256), default="")
    created_time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    cleared: Mapped[bool] = mapped_column(default=False, index=True)
