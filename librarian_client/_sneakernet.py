"""Sneakernet calls for operators (admin accounts): export a disk, ingest one, disks out.

Export and ingest run on the server, where the disk is mounted, and answer with a
stream of progress events (newline-delimited JSON) that these methods yield.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

# ``models.X``, not ``from ... import X``: the package imports a model's module when it
# is first used, so a command that never calls these builds none of their validators.
from librarian_client import models
from librarian_client.exceptions import (
    LibrarianHTTPError,
    ProtocolError,
    error_for,
    error_from_body,
)
from librarian_client.limits import API_PREFIX

API = f"{API_PREFIX}/sneakernet"
if TYPE_CHECKING:
    from pydantic import BaseModel

M = TypeVar("M", bound="BaseModel")


def _newer_error(line: str) -> LibrarianHTTPError | None:
    try:
        data = json.loads(line)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("event") != "error":
        return None
    status = data.get("status")
    return error_from_body(status if isinstance(status, int) else 500, data)


class SneakernetMixin:
    def _call(self, model: type[M], method: str, path: str, **kwargs: Any) -> M:
        raise NotImplementedError

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        raise NotImplementedError

    def _stream(
        self, method: str, path: str, **kwargs: Any
    ) -> AbstractContextManager[httpx.Response]:
        raise NotImplementedError

    def _events(self, path: str, body: BaseModel) -> Iterator[models.DiskEvent]:
        from pydantic import ValidationError

        what = f"POST {path}"
        with self._stream("POST", path, json=body.model_dump(mode="json")) as response:
            for line in response.iter_lines():
                if not line.strip():
                    continue
                try:
                    event = models.DiskEvent.model_validate_json(line)
                except ValidationError as exc:
                    newer = _newer_error(line)  # a code this client does not know yet
                    if newer is not None:
                        raise newer from None
                    raise ProtocolError(f"The server's answer to {what} is malformed.") from exc
                if event.event == "error":
                    # The status and code of the failure itself, not the stream's 200.
                    raise error_for(
                        event.status or 500,
                        event.reason or "the server-side work failed",
                        event.suggested_remedy,
                        code=event.code,
                    )
                yield event

    def sneakernet_export(
        self, peer: str, path: str, *, max_bytes: int | None = None
    ) -> Iterator[models.DiskEvent]:
        """Write what ``peer`` lacks to the disk mounted at ``path`` on the server."""
        request = models.SneakernetExportRequest(peer=peer, path=path, max_bytes=max_bytes)
        return self._events(f"{API}/export", request)

    def sneakernet_ingest(
        self, path: str, *, accept_unsigned: bool = False
    ) -> Iterator[models.DiskEvent]:
        """Verify and commit the files on the disk mounted at ``path`` on the server.

        The server refuses a disk whose manifest is unsigned or fails its signature;
        ``accept_unsigned`` overrides that (the server logs it)."""
        request = models.SneakernetIngestRequest(path=path, accept_unsigned=accept_unsigned)
        return self._events(f"{API}/ingest", request)

    def sneakernet_disks(self) -> list[models.DiskInfo]:
        from pydantic import TypeAdapter, ValidationError

        response = self._send("GET", f"{API}/disks")
        try:
            return TypeAdapter(list[models.DiskInfo]).validate_json(response.content)
        except ValidationError as exc:
            raise ProtocolError(f"The server's disk list is malformed: {exc}.") from exc

    def sneakernet_requeue(
        self, label: str, *, overdue_only: bool = False
    ) -> models.RequeueResponse:
        params = {"overdue_only": "true"} if overdue_only else {}
        return self._call(
            models.RequeueResponse, "POST", f"{API}/disks/{label}/requeue", params=params
        )
