"""The /api/v2 router."""

from fastapi import APIRouter, Depends

from librarian_client.models import API_PREFIX
from librarian_server.api import (
    admin,
    checkin,
    clone,
    deletion,
    events,
    files,
    integrity,
    params,
    ping,
    proofs,
    release,
    replication,
    sneakernet,
    staging,
    upload,
    users,
    webhooks,
)

api_router = APIRouter(prefix=API_PREFIX, dependencies=[Depends(params.no_nul_in_url)])
for _module in (
    ping,
    upload,
    files,
    integrity,
    release,
    deletion,
    admin,
    clone,
    checkin,
    proofs,
    replication,
    sneakernet,
    staging,
    users,
    events,
    webhooks,
):
    api_router.include_router(_module.router)

__all__ = ["api_router"]
