"""HTTP calls to a peer site's clone and check-in endpoints.

One ``httpx.Client`` per peer per task run (keep-alive across a batch), with a
timeout on every call. Failures become ``PeerError`` carrying the peer's own
reason, so an operator sees "ucsd: 507 No store has room…" rather than a stack.
File bytes are read once, hashed as they go, and never held whole in memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from librarian_client._io import HashingReader, ProgressCallback, coalesced
from librarian_client.exceptions import error_from_response
from librarian_client.models import API_PREFIX as API
from librarian_client.models import (
    CheckinRequest,
    CheckinResponse,
    CloneBundleResponse,
    CloneCompleteRequest,
    CloneCompleteResponse,
    CloneStageRequest,
    CloneStageResponse,
    CloneStatusRequest,
    CloneStatusResponse,
    OutgoingStatusRequest,
    OutgoingStatusResponse,
    PingResponse,
    UploadBundleHeader,
    UploadPutResponse,
)
from librarian_server import __version__
from librarian_server.errors import PeerError

M = TypeVar("M", bound=BaseModel)


class SentFile:
    """One file's bytes as sent: the reader hashes them on the way out."""

    def __init__(self, path: Path, size: int, algorithm: str, progress: ProgressCallback) -> None:
        self.path = path
        self.size = size
        self.algorithm = algorithm
        self.progress = progress
        self.reader: HashingReader | None = None

    def open_reader(self, handle: Any) -> HashingReader:
        reader = HashingReader(handle, str(self.path), self.size, self.algorithm, self.progress)
        self.reader = reader
        return reader

    @property
    def checksum(self) -> str | None:
        """What we actually sent (None if the file was never read)."""
        return None if self.reader is None else self.reader.checksum


class PeerClient:
    def __init__(
        self,
        name: str,
        url: str,
        username: str,
        password: str,
        *,
        timeout: float,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.name = name
        self.url = url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.url,
            auth=httpx.BasicAuth(username, password),
            timeout=httpx.Timeout(timeout),
            headers={"User-Agent": f"librarian-server/{__version__}"},
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> PeerClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TimeoutException:
            raise PeerError(f"{self.name} did not answer {method} {path} in time.") from None
        except httpx.HTTPError as exc:
            raise PeerError(
                f"{self.name} is unreachable at {self.url}: {str(exc) or type(exc).__name__}."
            ) from None
        if response.is_error:
            error = error_from_response(response)
            raise PeerError(
                f"{self.name} answered {response.status_code}: {error.reason}",
                peer_status=response.status_code,
            )
        return response

    def _call(self, model: type[M], method: str, path: str, **kwargs: Any) -> M:
        response = self._send(method, path, **kwargs)
        try:
            return model.model_validate_json(response.content)
        except ValidationError as exc:
            raise PeerError(
                f"{self.name} answered {method} {path} with something that is not a "
                f"{model.__name__}: {exc.errors()[0]['msg']}."
            ) from None

    def _post(self, model: type[M], path: str, body: BaseModel) -> M:
        return self._call(model, "POST", path, json=body.model_dump(mode="json"))

    # -- the protocol ---------------------------------------------------------------

    def ping(self) -> PingResponse:
        return self._call(PingResponse, "GET", f"{API}/ping")

    def stage(self, request: CloneStageRequest) -> CloneStageResponse:
        return self._post(CloneStageResponse, f"{API}/clone/stage", request)

    def complete(self, request: CloneCompleteRequest) -> CloneCompleteResponse:
        return self._post(CloneCompleteResponse, f"{API}/clone/complete", request)

    def status(self, request: CloneStatusRequest) -> CloneStatusResponse:
        return self._post(CloneStatusResponse, f"{API}/clone/status", request)

    def checkin(self, request: CheckinRequest) -> CheckinResponse:
        return self._post(CheckinResponse, f"{API}/checkin", request)

    def outgoing_status(self, request: OutgoingStatusRequest) -> OutgoingStatusResponse:
        return self._post(OutgoingStatusResponse, f"{API}/checkin/status", request)

    def put(self, put_path: str, sent: SentFile) -> UploadPutResponse:
        headers = {"Content-Length": str(sent.size), "Content-Type": "application/octet-stream"}
        with open(sent.path, "rb") as handle:
            reader = sent.open_reader(handle)
            content: bytes | HashingReader = (
                reader.read_all_small() if sent.size <= (1 << 20) else reader
            )
            return self._call(UploadPutResponse, "PUT", put_path, content=content, headers=headers)

    def bundle(self, transfer_ids: list[int], files: list[SentFile]) -> CloneBundleResponse:
        """Many small files in one request: a JSON header line, then their bytes."""
        head = UploadBundleHeader(transfer_ids=transfer_ids).model_dump_json().encode() + b"\n"

        def pieces() -> Iterator[bytes]:
            yield head
            for sent in files:
                with open(sent.path, "rb") as handle:
                    yield sent.open_reader(handle).read_all_small()

        length = len(head) + sum(f.size for f in files)
        headers = {"Content-Length": str(length), "Content-Type": "application/octet-stream"}
        return self._call(
            CloneBundleResponse,
            "POST",
            f"{API}/clone/bundle",
            content=coalesced(pieces()),
            headers=headers,
        )
