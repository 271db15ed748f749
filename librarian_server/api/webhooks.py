"""Webhook subscriptions (administrators only): receivers posted the event log as it grows."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from librarian_client.models import (
    WEBHOOK_NAME,
    ErrorResponse,
    WebhookCreateRequest,
    WebhookCreateResponse,
    WebhookInfo,
    WebhookList,
    WebhookTestResponse,
    WebhookUpdateRequest,
)
from librarian_server.api.deps import Admin, SessionDep, SessionFactoryDep, SettingsDep
from librarian_server.services.core import webhook_delivery, webhooks
from librarian_server.services.core.credentials import CredentialBox

router = APIRouter(prefix="/webhooks", tags=["webhooks"])

NamePath = Annotated[str, Path(pattern=WEBHOOK_NAME, description="A webhook's name.")]
TAKEN: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorResponse, "description": "A webhook of that name exists."}
}


@router.post("", response_model=WebhookCreateResponse, status_code=201, responses=TAKEN)
def create(
    body: WebhookCreateRequest, session: SessionDep, settings: SettingsDep, admin: Admin
) -> WebhookCreateResponse:
    """Subscribe a receiver to the events from now on. The answer carries the signing
    secret when the site made it: this once, never again."""
    box = CredentialBox.for_settings(settings)
    made, secret = webhooks.create(session, body, actor=admin.name, box=box)
    return WebhookCreateResponse(**made.model_dump(), secret=secret)


@router.get("", response_model=WebhookList)
def list_webhooks(session: SessionDep, _: Admin) -> WebhookList:
    """Every subscription with where its delivery stands (backlog, failures, next try)."""
    return WebhookList(webhooks=webhooks.list_all(session))


@router.get("/{name}", response_model=WebhookInfo)
def get(name: NamePath, session: SessionDep, _: Admin) -> WebhookInfo:
    return webhooks.get(session, name)


@router.patch("/{name}", response_model=WebhookInfo)
def update(
    name: NamePath, body: WebhookUpdateRequest, session: SessionDep, admin: Admin
) -> WebhookInfo:
    """Enable, disable, or change the URL or kinds; a disabled one keeps its place in
    the log and catches up when enabled again."""
    return webhooks.update(session, name, body, actor=admin.name)


@router.delete("/{name}", response_model=WebhookInfo)
def delete(name: NamePath, session: SessionDep, admin: Admin) -> WebhookInfo:
    return webhooks.delete(session, name, actor=admin.name)


@router.post("/{name}/test", response_model=WebhookTestResponse)
def send_test(
    name: NamePath, factory: SessionFactoryDep, settings: SettingsDep, _: Admin
) -> WebhookTestResponse:
    """POST a signed test body (no events, ``"test": true``) to the receiver now and say
    whether it answered 2xx; the subscription's delivery state is left as it is."""
    box = CredentialBox.for_settings(settings)
    return webhook_delivery.send_test(factory, name, box, settings.webhooks)
