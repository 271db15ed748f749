"""The peer protocol, sending side: peers confirm copies and ask what we still send."""

from __future__ import annotations

from fastapi import APIRouter

from librarian_client.models import (
    CheckinRequest,
    CheckinResponse,
    OutgoingStatusRequest,
    OutgoingStatusResponse,
)
from librarian_server.api.deps import Peer, SessionDep, SettingsDep
from librarian_server.services.replication import checkins

router = APIRouter(prefix="/checkin", tags=["replication"])


@router.post("", response_model=CheckinResponse)
def checkin(
    body: CheckinRequest, session: SessionDep, settings: SettingsDep, user: Peer
) -> CheckinResponse:
    return checkins.record_checkins(session, body, user=user, settings=settings)


@router.post("/status", response_model=OutgoingStatusResponse)
def outgoing_status(
    body: OutgoingStatusRequest, session: SessionDep, user: Peer
) -> OutgoingStatusResponse:
    return checkins.outgoing_live(session, body, user=user)
