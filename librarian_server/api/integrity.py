"""Proving copies on demand (admins: re-reading bytes costs the store's bandwidth)."""

from __future__ import annotations

from fastapi import APIRouter

from librarian_client.models import VerifyRequest, VerifyResponse
from librarian_server.api.deps import Admin, SessionFactoryDep
from librarian_server.services.integrity.on_demand import verify_files

router = APIRouter(tags=["integrity"])


@router.post("/verify", response_model=VerifyResponse)
def verify(body: VerifyRequest, factory: SessionFactoryDep, user: Admin) -> VerifyResponse:
    """Re-hash every copy at this site of the named files (or a page of a prefix) now."""
    return verify_files(factory, body, by=f"verify ({user.name})")
