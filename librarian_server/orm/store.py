"""Store: a place bytes live (a directory or a bucket), with a local staging area."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, String
from sqlalchemy import false as sa_false
from sqlalchemy.orm import Mapped, mapped_column

from librarian_server.orm.base import Base, UTCDateTime, str_enum, utcnow


class StoreKind(StrEnum):
    POSIX = "posix"
    S3 = "s3"
    COLD = "cold"
    """Tape behind a disk cache: copies may be offline and must be staged to be read."""


class Store(Base):
    __tablename__ = "stores"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    kind: Mapped[StoreKind] = mapped_column(str_enum(StoreKind, 32))
    root: Mapped[str] = mapped_column(String(2048))
    # The kind's own settings (an S3 store's endpoint, bucket, credentials file, spool...);
    # None for POSIX, whose root says it all. Never a secret: credentials stay in files.
    options: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    capacity_bytes: Mapped[int | None] = mapped_column(BigInteger)
    used_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    enabled: Mapped[bool] = mapped_column(default=True)
    accepts_ingest: Mapped[bool] = mapped_column(default=True)
    # Emptied and disabled for good (``retire-store``): kept so history still names it.
    retired: Mapped[bool] = mapped_column(default=False, server_default=sa_false())
    created_time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The audit's walk of the store for dark files: where it stopped (a store-relative
    # path, so a restart resumes there) and when the last whole walk began and ended.
    audit_walk_after: Mapped[str | None] = mapped_column(String(2048))
    audit_walk_started: Mapped[datetime | None] = mapped_column(UTCDateTime)
    audit_walk_finished: Mapped[datetime | None] = mapped_column(UTCDateTime)
