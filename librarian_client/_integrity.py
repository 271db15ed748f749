"""Keeping copies true, for operators (admin accounts): re-hash now, damage records,
repair, and releasing space by a store's policy.

A mixin of ``LibrarianClient``; it relies only on the client's ``_call``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

# ``models.X``, not ``from ... import X``: the package imports a model's module when it
# is first used, so a command that never calls these builds none of their validators.
from librarian_client import models
from librarian_client.limits import API_PREFIX as API

if TYPE_CHECKING:
    from pydantic import BaseModel

M = TypeVar("M", bound="BaseModel")


class IntegrityMixin:
    def _call(self, model: type[M], method: str, path: str, **kwargs: Any) -> M:
        raise NotImplementedError

    def verify(
        self, names: Iterable[str] = (), *, prefix: str | None = None, page_size: int = 20
    ) -> Iterator[models.VerifyResponse]:
        """Re-hash this site's copies of the named files (or every file under ``prefix``)
        now, one page of ``page_size`` files per request (admin); yields each page's
        findings as it arrives."""
        if prefix is not None:
            after: str | None = None
            while True:
                request = models.VerifyRequest(prefix=prefix, after=after, limit=page_size)
                page = self._verify_page(request)
                yield page
                if page.next is None:
                    return
                after = page.next
        chosen = list(names)
        for start in range(0, len(chosen), page_size):
            yield self._verify_page(models.VerifyRequest(names=chosen[start : start + page_size]))

    def _verify_page(self, request: models.VerifyRequest) -> models.VerifyResponse:
        body = request.model_dump(mode="json", exclude_defaults=True)
        return self._call(models.VerifyResponse, "POST", f"{API}/verify", json=body)

    def damage(
        self,
        *,
        state: str | None = None,
        active: bool | None = None,
        store: str | None = None,
        kind: str | None = None,
        limit: int | None = None,
        page_size: int = 500,
    ) -> Iterator[models.DamageInfo]:
        """Damage records in the order found (admin), paged as they are read; at most
        ``limit`` of them when given."""
        params: dict[str, str | int] = {}
        for key, value in (("state", state), ("store", store), ("kind", kind)):
            if value is not None:
                params[key] = value
        if active is not None:
            params["active"] = "true" if active else "false"
        left = limit
        after: int | None = None
        while left is None or left > 0:
            page_params = {**params, "limit": min(page_size, left or page_size)}
            if after is not None:
                page_params["after"] = after
            page = self._call(models.DamageListResponse, "GET", f"{API}/damage", params=page_params)
            yield from page.damage
            if left is not None:
                left -= len(page.damage)
            if page.next is None:
                return
            after = page.next

    def repair(self, damage_id: int) -> models.DamageInfo:
        """Try to repair one damaged copy now (admin); the record as the attempt left it."""
        response = self._call(
            models.RepairResponse, "POST", f"{API}/damage/{int(damage_id)}/repair"
        )
        return response.damage

    def release(
        self, store: str, *, dry_run: bool = True, page_size: int = 100
    ) -> Iterator[models.ReleaseResponse]:
        """Apply ``store``'s release policy (admin), a page of ``page_size`` candidates per
        request; ``dry_run`` only says what would go and why. Yields each page."""
        after: str | None = None
        while True:
            request = models.ReleaseRequest(
                store=store, dry_run=dry_run, limit=page_size, after=after
            )
            page = self._call(
                models.ReleaseResponse,
                "POST",
                f"{API}/release",
                json=request.model_dump(mode="json", exclude_none=True),
            )
            yield page
            if page.next is None:
                return
            after = page.next
