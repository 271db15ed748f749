"""Peer: another site's librarian, which we push files to and take check-ins from.

The table keeps its historical name, ``librarians``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from librarian_server.orm.base import Base, UTCDateTime, utcnow


class Peer(Base):
    __tablename__ = "librarians"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    url: Mapped[str] = mapped_column(String(2048))
    username: Mapped[str] = mapped_column(String(128))
    # Fernet-sealed with the site's key file (replication/credentials.py), never plain text.
    sealed_password: Mapped[str] = mapped_column(Text)
    push: Mapped[bool] = mapped_column(default=True)
    forward: Mapped[bool] = mapped_column(
        default=False, doc="Also push files that came here from other sites."
    )
    push_name_glob: Mapped[str | None] = mapped_column(String(1024))
    push_created_after: Mapped[datetime | None] = mapped_column(UTCDateTime)
    transfer_managers: Mapped[list[str]] = mapped_column(
        JSON, default=list, doc="Managers this peer accepts, in no order; empty means any."
    )
    enabled: Mapped[bool] = mapped_column(default=True)
    last_contact: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    # Health: batches that failed in a row because the peer could not be reached; no
    # batch goes to it before next_attempt_after (an exponential backoff), and the
    # files wait with it without spending their attempts.
    consecutive_failures: Mapped[int] = mapped_column(default=0, server_default="0")
    next_attempt_after: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Planning: files created before this (less a look-back) were all considered, so a
    # run scans only newer ones; a full sweep (at swept_time) now and then checks all.
    planned_through: Mapped[datetime | None] = mapped_column(UTCDateTime)
    swept_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
