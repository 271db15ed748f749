"""RemoteInstance: the knowledge that another site holds a verified copy of a File."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from librarian_server.orm.base import NAME_TYPE, Base, UTCDateTime, utcnow


class RemoteInstance(Base):
    __tablename__ = "remote_instances"
    __table_args__ = (UniqueConstraint("file_name", "site"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    file_name: Mapped[str] = mapped_column(NAME_TYPE, ForeignKey("files.name", ondelete="CASCADE"))
    # A site name, not a foreign key: we may learn of copies at sites we do not peer with.
    site: Mapped[str] = mapped_column(String(64), index=True)
    copy_time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
