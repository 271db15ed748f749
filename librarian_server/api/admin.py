"""Tokens for the logged-in user, and the store overview."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter

from librarian_client.models import StoreInfo, TokenCreateRequest, TokenCreateResponse

from ..services import auth, stores
from .deps import Admin, Authenticated, SessionDep, SettingsDep

router = APIRouter(tags=["admin"])


@router.post("/tokens", response_model=TokenCreateResponse)
def create_token(
    body: TokenCreateRequest, session: SessionDep, user: Authenticated
) -> TokenCreateResponse:
    expires = (
        None if body.expires_in_seconds is None else timedelta(seconds=body.expires_in_seconds)
    )
    token, row = auth.create_token(
        session, user.id, expires_in=expires, description=body.description
    )
    return TokenCreateResponse(token=token, user=user.name, expires_at=row.expires_at)


@router.get("/stores", response_model=list[StoreInfo])
def list_stores(session: SessionDep, settings: SettingsDep, _: Admin) -> list[StoreInfo]:
    return [
        stores.store_info(session, s, min_free_bytes=settings.min_free_bytes)
        for s in stores.get_stores(session)
    ]
