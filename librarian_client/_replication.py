"""Replication calls for operators (admin accounts): peers, transfers, batches, tasks.

A mixin of ``LibrarianClient``, kept apart so that the core client stays about
files; it relies only on the client's ``_call``/``_send``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

# ``models.X``, not ``from ... import X``: the package imports a model's module when it
# is first used, so a command that never calls these builds none of their validators.
from librarian_client import models
from librarian_client.exceptions import ProtocolError
from librarian_client.limits import API_PREFIX as API
from librarian_client.limits import Direction, TransferStatus

if TYPE_CHECKING:
    from pydantic import BaseModel

M = TypeVar("M", bound="BaseModel")


class ReplicationMixin:
    def _call(self, model: type[M], method: str, path: str, **kwargs: Any) -> M:
        raise NotImplementedError

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        raise NotImplementedError

    def _list(self, item: type[M], path: str, **params: Any) -> list[M]:
        from pydantic import TypeAdapter, ValidationError

        response = self._send("GET", path, params={k: v for k, v in params.items() if v})
        try:
            return TypeAdapter(list[item]).validate_json(response.content)  # type: ignore[valid-type]
        except ValidationError as exc:
            raise ProtocolError(f"The server's answer to GET {path} is malformed: {exc}.") from exc

    def peers(self) -> list[models.PeerInfo]:
        return self._list(models.PeerInfo, f"{API}/peers")

    def transfers(
        self,
        *,
        direction: Direction = Direction.OUTGOING,
        status: TransferStatus | None = None,
        peer: str | None = None,
        limit: int | None = None,
        page_size: int = 1000,
    ) -> Iterator[models.TransferRow]:
        """Newest first, following pages lazily; ``limit`` caps the total."""
        cursor: str | None = None
        remaining = limit
        while remaining is None or remaining > 0:
            params: dict[str, Any] = {
                "direction": direction.value,
                "limit": page_size if remaining is None else min(page_size, remaining),
            }
            for key, value in (("status", status), ("peer", peer), ("cursor", cursor)):
                if value is not None:
                    params[key] = str(value)
            page = self._call(models.TransferListResponse, "GET", f"{API}/transfers", params=params)
            yield from page.transfers
            if remaining is not None:
                remaining -= len(page.transfers)
            if page.next_cursor is None or not page.transfers:
                return
            cursor = page.next_cursor

    def retry_transfers(
        self,
        *,
        status: TransferStatus = TransferStatus.FAILED,
        peer: str | None = None,
        limit: int | None = None,
    ) -> models.BulkRetryResponse:
        """Requeue every outgoing transfer with ``status`` (to ``peer``); how many."""
        body = models.BulkRetryRequest(
            status=status, peer=peer, **({"limit": limit} if limit else {})
        )
        return self._call(
            models.BulkRetryResponse,
            "POST",
            f"{API}/transfers/retry",
            json=body.model_dump(mode="json"),
        )

    def retry_transfer(self, transfer_id: int) -> models.TransferActionResponse:
        return self._call(
            models.TransferActionResponse, "POST", f"{API}/transfers/{transfer_id}/retry"
        )

    def cancel_transfer(self, transfer_id: int) -> models.TransferActionResponse:
        return self._call(
            models.TransferActionResponse, "POST", f"{API}/transfers/{transfer_id}/cancel"
        )

    def queues(
        self, *, status: str | None = None, peer: str | None = None, limit: int = 100
    ) -> list[models.SendQueueInfo]:
        return self._list(
            models.SendQueueInfo, f"{API}/queues", status=status, peer=peer, limit=limit
        )

    def tasks(self) -> list[models.TaskInfo]:
        return self._list(models.TaskInfo, f"{API}/tasks")

    def run_task(self, name: str) -> models.TaskRunResult:
        """Run a background task on the server now and wait for its result."""
        return self._call(models.TaskRunResult, "POST", f"{API}/tasks/{name}/run")
