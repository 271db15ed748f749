"""Webhooks: receivers outside the site that are posted the event log as it grows.

Each POST carries a batch of events in ``seq`` order, signed like a staging job's
notification (``SIGNATURE_HEADER``), with a delivery id (``DELIVERY_HEADER``,
``"<name>:<first seq>-<last seq>"``) that stays the same when a batch is sent again:
delivery is at least once, and a receiver that keeps the ids it has seen gets each
event exactly once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field

from librarian_client.models.common import WireModel

MAX_WEBHOOK_BACKLOG = 10_000
"""A listing counts each subscription's waiting events up to this many."""
MAX_WEBHOOK_KINDS = 64
WEBHOOK_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
EVENT_KIND = r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*(\.\*|\.)?$"
"""A kind (``file.committed``) or a family (``admin.*`` or ``admin.``)."""


def checked_url(value: str) -> str:
    """An http(s) URL with a host, or ValueError (a 400 for the API, exit 2 for the CLI)."""
    if any(c.isspace() for c in value) or len(value) > 2048:
        raise ValueError("the URL must be at most 2048 characters, without spaces")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise ValueError("the URL is malformed") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("the URL must be http:// or https:// with a host name")
    return value


def shown_url(url: str) -> str:
    """scheme://host[:port]/path: what is logged and shown; never the user, password or
    query, which may hold the receiver's own credentials."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{parts.scheme}://{host}{'' if port is None else f':{port}'}{parts.path}"


def _distinct(kinds: list[str]) -> list[str]:
    return list(dict.fromkeys(kinds))


WebhookUrl = Annotated[
    str,
    Field(max_length=2048, description="Where the events are POSTed (http or https)."),
    AfterValidator(checked_url),
]
EventKinds = Annotated[
    list[Annotated[str, Field(max_length=64, pattern=EVENT_KIND)]],
    Field(
        max_length=MAX_WEBHOOK_KINDS,
        description="Event kinds to send, e.g. file.committed or admin.*; empty: every "
        "kind except the administrators' (admin.*).",
    ),
    AfterValidator(_distinct),
]


class WebhookCreateRequest(WireModel):
    name: str = Field(pattern=WEBHOOK_NAME, description="Unique; names it in the API and CLI.")
    url: WebhookUrl
    kinds: EventKinds = Field(default_factory=list)
    secret: str | None = Field(
        default=None,
        min_length=16,
        max_length=256,
        description="The HMAC-SHA256 signing key; when absent one is made and returned once.",
    )


class WebhookUpdateRequest(WireModel):
    """Only what is given changes; a new url or kinds starts the batch on its way afresh."""

    enabled: bool | None = None
    url: WebhookUrl | None = None
    kinds: EventKinds | None = None


class WebhookInfo(WireModel):
    """A subscription and where its delivery stands; never its secret."""

    name: str
    url: str = Field(description="scheme://host/path only: no credentials, no query.")
    kinds: list[str]
    enabled: bool
    created_by: str
    created_time: datetime
    cursor: int = Field(description="The last event seq delivered (or skipped as not asked for).")
    backlog: int = Field(
        description=f"Matching events after the cursor, counted up to {MAX_WEBHOOK_BACKLOG}."
    )
    attempts: int = Field(description="Failed attempts in a row at the batch on its way.")
    pending_since: datetime | None = Field(
        default=None, description="When the batch on its way first failed."
    )
    next_attempt_at: datetime | None = Field(
        default=None, description="When a failed batch is tried again (None: not backing off)."
    )
    last_attempt_time: datetime | None = None
    last_delivery_time: datetime | None = None
    last_status: str | None = Field(default=None, description="delivered or failed")
    last_error: str | None = None
    delivered_events: int
    failed_attempts: int


class WebhookCreateResponse(WebhookInfo):
    secret: str | None = Field(
        default=None,
        description="The signing key made for this subscription: shown in this answer only "
        "(absent when the request gave one).",
    )


class WebhookList(WireModel):
    webhooks: list[WebhookInfo]


class WebhookEvent(WireModel):
    seq: int
    time: datetime
    kind: str
    actor: str
    subject: str
    detail: dict[str, Any] = Field(default_factory=dict)


class WebhookPayload(WireModel):
    """The body a receiver is POSTed."""

    subscription: str
    events: list[WebhookEvent]
    test: bool = Field(default=False, description="True for `librarian webhooks test`.")


class WebhookTestResponse(WireModel):
    delivered: bool = Field(description="The receiver answered 2xx.")
    error: str | None = Field(default=None, description="What went wrong, when it did not.")
    delivery: str = Field(description="The delivery id the test was sent with.")
