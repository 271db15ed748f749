"""ReleasePolicy: what a store does with copies older than some days (delete or move)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column, relationship

from librarian_client.models import ReleaseAction
from librarian_server.orm.base import Base, UTCDateTime, str_enum, utcnow
from librarian_server.orm.store import Store


class ReleasePolicy(Base):
    __tablename__ = "release_policies"

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"), unique=True)
    after_days: Mapped[int] = mapped_column(Integer)
    action: Mapped[ReleaseAction] = mapped_column(str_enum(ReleaseAction, 16))
    # move: the store of this site the copies go to
    target_store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"))
    # delete: verified copies needed at distinct other sites, how recent each site's
    # re-hash must be, and whether this site's last copy may go
    min_copies: Mapped[int | None] = mapped_column(Integer)
    proof_age_days: Mapped[int | None] = mapped_column(Integer)
    allow_remote_only: Mapped[bool] = mapped_column(default=False)
    updated_time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    store: Mapped[Store] = relationship(foreign_keys=[store_id])
    target_store: Mapped[Store | None] = relationship(foreign_keys=[target_store_id])
