"""Webhook subscriptions for administrators: add, list, change, remove and test them.

A mixin of ``LibrarianClient``; it relies only on the client's ``_call``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from librarian_client import models
from librarian_client.limits import API_PREFIX as API

if TYPE_CHECKING:
    from pydantic import BaseModel

M = TypeVar("M", bound="BaseModel")


class WebhooksMixin:
    def _call(self, model: type[M], method: str, path: str, **kwargs: Any) -> M:
        raise NotImplementedError

    def add_webhook(
        self, name: str, url: str, *, kinds: Iterable[str] = (), secret: str | None = None
    ) -> models.WebhookCreateResponse:
        """Subscribe ``url`` to the events from now on (``kinds``: all but ``admin.*``
        when empty). Without ``secret`` the server makes one: it is in this answer only."""
        body = models.WebhookCreateRequest(name=name, url=url, kinds=list(kinds), secret=secret)
        return self._call(
            models.WebhookCreateResponse,
            "POST",
            f"{API}/webhooks",
            json=body.model_dump(mode="json", exclude_none=True),
        )

    def webhooks(self) -> list[models.WebhookInfo]:
        return self._call(models.WebhookList, "GET", f"{API}/webhooks").webhooks

    def webhook(self, name: str) -> models.WebhookInfo:
        return self._call(models.WebhookInfo, "GET", f"{API}/webhooks/{name}")

    def update_webhook(
        self,
        name: str,
        *,
        enabled: bool | None = None,
        url: str | None = None,
        kinds: Iterable[str] | None = None,
    ) -> models.WebhookInfo:
        body = models.WebhookUpdateRequest(
            enabled=enabled, url=url, kinds=None if kinds is None else list(kinds)
        )
        return self._call(
            models.WebhookInfo,
            "PATCH",
            f"{API}/webhooks/{name}",
            json=body.model_dump(mode="json", exclude_none=True),
        )

    def remove_webhook(self, name: str) -> models.WebhookInfo:
        return self._call(models.WebhookInfo, "DELETE", f"{API}/webhooks/{name}")

    def test_webhook(self, name: str) -> models.WebhookTestResponse:
        """Have the server POST a signed test body to the receiver now."""
        return self._call(models.WebhookTestResponse, "POST", f"{API}/webhooks/{name}/test")
