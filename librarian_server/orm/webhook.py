"""WebhookSubscription: a receiver outside the site that is posted the event log as it grows.

The log is the queue: a subscription keeps only its ``cursor`` (the last ``seq`` it was
sent and acknowledged) and the state of the batch on its way. ``batch_end`` pins that
batch before it is posted, so a retry, or a resend after a crash between the POST and
the cursor's move, carries the same events under the same delivery id.

``next_attempt_at`` is also the claim: a worker delivering a subscription sets it to the
end of its lease, so no other worker takes the subscription until the lease is over.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from librarian_server.orm.base import Base, UTCDateTime, utcnow


class WebhookSubscription(Base):
    __tablename__ = "webhook_subscriptions"
    __table_args__ = (Index("ix_webhook_subscriptions_due", "enabled", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    url: Mapped[str] = mapped_column(String(2048))
    kinds: Mapped[list[str]] = mapped_column(
        JSON, default=list, doc="Kinds (or families, 'admin.*') sent; empty: every non-admin kind."
    )
    sealed_secret: Mapped[str] = mapped_column(
        Text, doc="The signing key, Fernet-sealed with the site's key file (CredentialBox)."
    )
    created_by: Mapped[str] = mapped_column(String(256))
    created_time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    enabled: Mapped[bool] = mapped_column(default=True)
    cursor: Mapped[int] = mapped_column(BigInteger, default=0)
    batch_end: Mapped[int | None] = mapped_column(
        BigInteger, doc="The last seq of the batch being delivered; None between batches."
    )
    pending_since: Mapped[datetime | None] = mapped_column(
        UTCDateTime, doc="When the batch on its way first failed; None once delivered."
    )
    attempts: Mapped[int] = mapped_column(default=0, doc="Failures in a row of this batch.")
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_attempt_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_delivery_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status: Mapped[str | None] = mapped_column(String(16), doc="delivered or failed")
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_events: Mapped[int] = mapped_column(BigInteger, default=0)
    failed_attempts: Mapped[int] = mapped_column(BigInteger, default=0)
