"""Tokens for the logged-in user (create, list, revoke), and the store overview."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query

from librarian_client.models import (
    PermissionLevel,
    StoreInfo,
    TokenCreateRequest,
    TokenCreateResponse,
    TokenInfo,
    TokenRevokeResponse,
)
from librarian_server.api.deps import Admin, Authenticated, SessionDep, SettingsDep
from librarian_server.api.params import TokenIdPath
from librarian_server.errors import PermissionDenied
from librarian_server.services.accounts import tokens
from librarian_server.services.catalogue import stores

router = APIRouter(tags=["admin"])


@router.post("/tokens", response_model=TokenCreateResponse)
def create_token(
    body: TokenCreateRequest, session: SessionDep, settings: SettingsDep, user: Authenticated
) -> TokenCreateResponse:
    """A token made with a token is its child: it never outlives it and dies with it."""
    token, row = tokens.create_token(
        session,
        user.id,
        expires_in_seconds=body.expires_in_seconds,
        max_lifetime=timedelta(seconds=settings.token_max_lifetime_seconds),
        description=body.description,
        parent_id=user.token_id,
        parent_expires_at=user.token_expires_at,
    )
    return TokenCreateResponse(token=token, user=user.name, expires_at=row.expires_at, id=row.id)


@router.get("/tokens", response_model=list[TokenInfo])
def list_tokens(
    session: SessionDep,
    user: Authenticated,
    all_users: Annotated[bool, Query(alias="all")] = False,
) -> list[TokenInfo]:
    """Your live tokens; ``?all=true`` (admins only) lists everyone's."""
    if all_users and user.permission is not PermissionLevel.ADMIN:
        raise PermissionDenied("Only administrators may list every user's tokens.")
    return tokens.list_tokens(session, user_id=None if all_users else user.id)


@router.delete("/tokens/{token_id}", response_model=TokenRevokeResponse)
def revoke_token(
    token_id: TokenIdPath, session: SessionDep, user: Authenticated
) -> TokenRevokeResponse:
    """Revoke one of your tokens (admins: anyone's, audited) and every token minted from it.

    The auth generation bump commits with the deletion, so every process's cache
    stops serving the revoked tokens on their next request."""
    revoked = tokens.revoke_token(
        session, token_id, user_id=user.id, permission=user.permission, actor=user.name
    )
    return TokenRevokeResponse(revoked=revoked)


@router.get("/stores", response_model=list[StoreInfo])
def list_stores(session: SessionDep, settings: SettingsDep, _: Admin) -> list[StoreInfo]:
    return [
        stores.store_info(session, s, min_free_bytes=settings.min_free_bytes)
        for s in stores.get_stores(session)
    ]
