"""VOSpace-only state: explicit containers, links, user properties, UWS jobs, endpoints.

Data nodes are catalogue Files and containers are mostly path prefixes, so these
tables hold only what the catalogue cannot: containers made empty on purpose,
links, properties set by users, and the transfer jobs with their one-time
endpoints. Paths use the files' byte-ordered name type, so that a listing can
merge these tables with ``files`` in one order.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from librarian_server.orm.base import NAME_TYPE, Base, UTCDateTime, str_enum, utcnow


class UWSPhase(StrEnum):
    PENDING = "PENDING"
    QUEUED = "QUEUED"
    EXECUTING = "EXECUTING"
    COMPLETED = "COMPLETED"
    ERROR = "ERROR"
    ABORTED = "ABORTED"
    UNKNOWN = "UNKNOWN"
    HELD = "HELD"
    SUSPENDED = "SUSPENDED"
    ARCHIVED = "ARCHIVED"


ACTIVE_PHASES = (UWSPhase.QUEUED, UWSPhase.EXECUTING)


class VOSpaceContainer(Base):
    """A ContainerNode created explicitly (vmkdir), so that it exists while empty."""

    __tablename__ = "vospace_containers"

    path: Mapped[str] = mapped_column(NAME_TYPE, primary_key=True)
    owner: Mapped[str] = mapped_column(String(256))
    created_time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class VOSpaceLink(Base):
    """A LinkNode: a name that points at another URI (a node here, or anywhere)."""

    __tablename__ = "vospace_links"

    path: Mapped[str] = mapped_column(NAME_TYPE, primary_key=True)
    target: Mapped[str] = mapped_column(String(4096))
    owner: Mapped[str] = mapped_column(String(256))
    created_time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class VOSpaceProperty(Base):
    """A user-set node property; the catalogue's own (length, MD5, date...) are not stored."""

    __tablename__ = "vospace_properties"

    path: Mapped[str] = mapped_column(NAME_TYPE, primary_key=True)
    uri: Mapped[str] = mapped_column(String(512), primary_key=True, index=True)
    value: Mapped[str] = mapped_column(Text, default="")


class VOSpaceJob(Base):
    """A UWS transfer job: push/pull negotiation, or an internal move/copy."""

    __tablename__ = "vospace_jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner: Mapped[str | None] = mapped_column(String(256), index=True)
    phase: Mapped[UWSPhase] = mapped_column(str_enum(UWSPhase, 16), index=True)
    direction: Mapped[str] = mapped_column(String(4096))
    target: Mapped[str] = mapped_column(String(4096))
    request: Mapped[dict[str, Any]] = mapped_column(JSON)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    results: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    run_id: Mapped[str | None] = mapped_column(String(256))
    error_fault: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    execution_duration: Mapped[int] = mapped_column(Integer)
    created_time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    start_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    destruction_time: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class VOSpaceEndpoint(Base):
    """A one-job data endpoint; only the SHA-256 of its secret URL token is kept."""

    __tablename__ = "vospace_endpoints"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    job_id: Mapped[str] = mapped_column(
        ForeignKey("vospace_jobs.id", ondelete="CASCADE"), index=True
    )
    direction: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(NAME_TYPE)
    owner: Mapped[str | None] = mapped_column(String(256))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    used: Mapped[bool] = mapped_column(default=False)
