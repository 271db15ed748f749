"""Liveness and identity: who this server is and who you are to it."""

from __future__ import annotations

from fastapi import APIRouter

from librarian_client.models import PingResponse
from librarian_server import __version__
from librarian_server.api.deps import OptionalUser, SettingsDep

router = APIRouter(tags=["ping"])


@router.get("/ping", response_model=PingResponse)
def ping(settings: SettingsDep, user: OptionalUser) -> PingResponse:
    return PingResponse(
        name=settings.site_name,
        version=__version__,
        checksum_algorithm=settings.checksum_algorithm,
        user=user.name if user else None,
        permission=user.permission if user else None,
    )
