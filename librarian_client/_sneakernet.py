"""Sneakernet calls for operators (admin accounts): export a disk, ingest one, disks out.

Export and ingest run on the server, where the disk is mounted, and answer with a
stream of progress events (newline-delimited JSON) that these methods yield.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError

from librarian_client.exceptions import ProtocolError, ServerError, error_from_response
from librarian_client.models import (
    API_PREFIX,
    DiskEvent,
    DiskInfo,
    RequeueResponse,
    SneakernetExportRequest,
    SneakernetIngestRequest,
)

API = f"{API_PREFIX}/sneakernet"
M = TypeVar("M", bound=BaseModel)


class SneakernetMixin:
    _http: httpx.Client

    def _call(self, model: type[M], method: str, path: str, **kwargs: Any) -> M:
        raise NotImplementedError

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        raise NotImplementedError

    def _mapped_errors(self, what: str) -> AbstractContextManager[None]:
        raise NotImplementedError

    def _events(self, path: str, body: BaseModel) -> Iterator[DiskEvent]:
        what = f"POST {path}"
        with (
            self._mapped_errors(what),
            self._http.stream("POST", path, json=body.model_dump(mode="json")) as response,
        ):
            if response.is_error:
                response.read()
                raise error_from_response(response)
            for line in response.iter_lines():
                if not line.strip():
                    continue
                try:
                    event = DiskEvent.model_validate_json(line)
                except ValidationError as exc:
                    raise ProtocolError(f"The server's answer to {what} is malformed.") from exc
                if event.event == "error":
                    raise ServerError(500, event.reason or "the server-side work failed")
                yield event

    def sneakernet_export(
        self, peer: str, path: str, *, max_bytes: int | None = None
    ) -> Iterator[DiskEvent]:
        """Write what ``peer`` lacks to the disk mounted at ``path`` on the server."""
        request = SneakernetExportRequest(peer=peer, path=path, max_bytes=max_bytes)
        return self._events(f"{API}/export", request)

    def sneakernet_ingest(self, path: str, *, accept_unsigned: bool = False) -> Iterator[DiskEvent]:
        """Verify and commit the files on the disk mounted at ``path`` on the server.

        The server refuses a disk whose manifest is unsigned or fails its signature;
        ``accept_unsigned`` overrides that (the server logs it)."""
        request = SneakernetIngestRequest(path=path, accept_unsigned=accept_unsigned)
        return self._events(f"{API}/ingest", request)

    def sneakernet_disks(self) -> list[DiskInfo]:
        response = self._send("GET", f"{API}/disks")
        try:
            return TypeAdapter(list[DiskInfo]).validate_json(response.content)
        except ValidationError as exc:
            raise ProtocolError(f"The server's disk list is malformed: {exc}.") from exc

    def sneakernet_requeue(self, label: str, *, overdue_only: bool = False) -> RequeueResponse:
        params = {"overdue_only": "true"} if overdue_only else {}
        return self._call(RequeueResponse, "POST", f"{API}/disks/{label}/requeue", params=params)
