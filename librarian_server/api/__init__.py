"""The /api/v2 router."""

from fastapi import APIRouter

from . import admin, checkin, clone, files, ping, replication, upload

api_router = APIRouter(prefix="/api/v2")
for _module in (ping, upload, files, admin, clone, checkin, replication):
    api_router.include_router(_module.router)

__all__ = ["api_router"]
