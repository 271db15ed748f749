"""Damage: something an audit (or any re-hash) found wrong with a copy or a store.

One active record per (store, path): a copy found bad again while its record is open
adds nothing. A record is never deleted; it ends in a state saying how it ended.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from librarian_client.models import DamageState, Finding
from librarian_server.orm.base import NAME_TYPE, Base, UTCDateTime, str_enum, utcnow
from librarian_server.orm.store import Store


class Damage(Base):
    __tablename__ = "damage"
    __table_args__ = (
        Index(
            "uq_damage_active_path",
            "store_id",
            "path",
            unique=True,
            sqlite_where=text("active"),
            postgresql_where=text("active"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Plain values, not foreign keys: the record outlives the file or copy it names.
    file_name: Mapped[str | None] = mapped_column(NAME_TYPE, index=True)
    instance_id: Mapped[int | None] = mapped_column(Integer, index=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), index=True)
    path: Mapped[str] = mapped_column(String(2048))
    kind: Mapped[Finding] = mapped_column(str_enum(Finding, 16))
    state: Mapped[DamageState] = mapped_column(str_enum(DamageState, 16), index=True)
    active: Mapped[bool] = mapped_column(default=True, index=True)
    found_time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    found_by: Mapped[str] = mapped_column(String(128))
    detail: Mapped[str] = mapped_column(Text, default="")
    resolution: Mapped[str | None] = mapped_column(Text)
    # Where the bad bytes were moved aside while a replacement is fetched (store-relative).
    quarantine_path: Mapped[str | None] = mapped_column(String(2048))
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_time: Mapped[datetime | None] = mapped_column(UTCDateTime)

    store: Mapped[Store] = relationship()
