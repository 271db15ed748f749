"""The event log for scripts: ``GET /events``, paged by a cursor, long-polled with ``wait``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from librarian_client.models import (
    MAX_EVENT_PAGE,
    MAX_EVENT_SEQ,
    MAX_EVENT_WAIT,
    EventList,
)
from librarian_server.api.deps import Authenticated, SessionFactoryDep, SettingsDep
from librarian_server.services.core import event_feed

router = APIRouter(prefix="/events", tags=["events"])

AfterQuery = Annotated[
    int,
    Query(
        ge=0, le=MAX_EVENT_SEQ, description="Events after this `seq` (the last answer's `next`)."
    ),
]
KindsQuery = Annotated[
    str | None,
    Query(
        max_length=2048,
        pattern=r"^[A-Za-z0-9_.*, -]*$",
        description="Comma-separated kinds to keep; `family.*` keeps a family (`admin.*`).",
    ),
]
LimitQuery = Annotated[
    int, Query(ge=1, le=MAX_EVENT_PAGE, description=f"Events per answer, 1 to {MAX_EVENT_PAGE}.")
]
WaitQuery = Annotated[
    float,
    Query(
        ge=0,
        le=MAX_EVENT_WAIT,
        description="When nothing is new, wait up to this many seconds for an event.",
    ),
]


@router.get("", response_model=EventList)
def list_events(
    factory: SessionFactoryDep,
    settings: SettingsDep,
    user: Authenticated,
    after: AfterQuery = 0,
    kinds: KindsQuery = None,
    limit: LimitQuery = 100,
    wait: WaitQuery = 0,
) -> EventList:
    """What happened on this site, oldest first. Administrators' actions (`admin.*`) are
    shown to administrators only. A sync route: the long poll waits in a worker thread."""
    return event_feed.pull(
        factory,
        after=after,
        limit=limit,
        kinds=event_feed.parse_kinds(kinds),
        include_admin=user.is_admin,
        wait=min(wait, settings.events_max_wait_seconds),
    )
