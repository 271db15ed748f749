"""The /api/v2 router."""

from fastapi import APIRouter

from . import admin, checkin, clone, deletion, files, ping, replication, sneakernet, upload

api_router = APIRouter(prefix="/api/v2")
for _module in (ping, upload, files, deletion, admin, clone, checkin, replication, sneakernet):
    api_router.include_router(_module.router)

__all__ = ["api_router"]
