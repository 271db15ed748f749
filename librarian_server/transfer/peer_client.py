"""HTTP calls to a peer site's clone and check-in endpoints.

One ``HttpSession`` per peer per task run (keep-alive across a batch), with a
timeout on every call: the client library's own plumbing, so a peer is called as a
user's client calls a server, and ``transport=`` routes the calls into another site's
app in the same process (tests). Failures become ``PeerError`` carrying the peer's own
reason, so an operator sees "ucsd: 507 No store has room…" rather than a stack.
File bytes are read once, hashed as they go, and never held whole in memory.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from librarian_client._download import name_path
from librarian_client.checksum import (
    ChecksumError,
    format_checksum,
    new_hasher,
    parse_checksum,
)
from librarian_client.exceptions import (
    LibrarianConnectionError,
    LibrarianHTTPError,
    LibrarianTimeoutError,
)
from librarian_client.http import Closing, HttpSession
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
    ProofJobInfo,
    ProofRequest,
    UploadPutResponse,
)
from librarian_client.streaming import (
    HashingReader,
    ProgressCallback,
    bundle_body,
    file_body,
    octet_headers,
)
from librarian_server import __version__
from librarian_server.errors import PeerError

M = TypeVar("M", bound=BaseModel)
CHUNK = 1 << 20


class SentFile:
    """One file's bytes as sent: the reader hashes them on the way out."""

    def __init__(
        self,
        opener: Callable[[], BinaryIO],
        label: str,
        size: int,
        algorithm: str,
        progress: ProgressCallback,
    ) -> None:
        self.open = opener
        self.label = label
        self.size = size
        self.algorithm = algorithm
        self.progress = progress
        self.reader: HashingReader | None = None

    def open_reader(self, handle: Any) -> HashingReader:
        reader = HashingReader(handle, self.label, self.size, self.algorithm, self.progress)
        self.reader = reader
        return reader

    @property
    def checksum(self) -> str | None:
        """What we actually sent (None if the file was never read)."""
        return None if self.reader is None else self.reader.checksum


class PeerClient(Closing):
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
        self._http = HttpSession(
            url,
            user_agent=f"librarian-server/{__version__}",
            timeout=timeout,
            auth=httpx.BasicAuth(username, password),
            transport=transport,
        )
        self.url = self._http.url

    def close(self) -> None:
        self._http.close()

    @contextmanager
    def _peer_errors(self, method: str, path: str) -> Iterator[None]:
        """Failures as ``PeerError``s naming the peer and carrying its own reason."""
        try:
            yield
        except LibrarianTimeoutError:
            raise PeerError(f"{self.name} did not answer {method} {path} in time.") from None
        except LibrarianConnectionError as exc:
            cause = exc.__cause__
            detail = str(cause) or type(cause).__name__
            raise PeerError(f"{self.name} is unreachable at {self.url}: {detail}.") from None
        except LibrarianHTTPError as exc:
            raise PeerError(
                f"{self.name} answered {exc.status_code}: {exc.reason}",
                peer_status=exc.status_code,
            ) from None

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        with self._peer_errors(method, path):
            return self._http.send(method, path, **kwargs)

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

    def request_proof(self, names: list[str]) -> ProofJobInfo:
        """Ask the peer to re-hash its copies of these files now (a job; see proof_status)."""
        return self._post(ProofJobInfo, f"{API}/proofs", ProofRequest(names=names))

    def proof_status(self, job_id: int) -> ProofJobInfo:
        return self._call(ProofJobInfo, "GET", f"{API}/proofs/{job_id}")

    def fetch(self, name: str, dest: Path, size: int, checksum: str) -> None:
        """Stream the peer's copy of ``name`` into ``dest`` (replaced), hashing as it
        arrives; bytes that are not ``size`` long or do not hash to ``checksum`` are
        deleted and refused."""
        algorithm, _ = parse_checksum(checksum)
        expected = format_checksum(*parse_checksum(checksum))
        hasher = new_hasher(algorithm)
        got = 0
        path = f"{API}/clone/download/{name_path(name)}"
        try:
            with self._stream("GET", path) as response, open(dest, "wb") as handle:
                announced = response.headers.get("X-Librarian-Checksum")
                if announced and _normalised(announced) != expected:
                    raise PeerError(
                        f"{self.name} catalogues {name!r} as {announced}, not {expected}; "
                        "its bytes were not taken."
                    )
                for chunk in response.iter_bytes(CHUNK):
                    got += len(chunk)
                    if got > size:
                        break
                    hasher.update(chunk)
                    handle.write(chunk)
                handle.flush()
                os.fsync(handle.fileno())
        except BaseException:
            dest.unlink(missing_ok=True)
            raise
        actual = format_checksum(algorithm, hasher.hexdigest())
        if got != size or actual != expected:
            dest.unlink(missing_ok=True)
            shown = f"more than {size}" if got > size else str(got)
            raise PeerError(
                f"{self.name} sent {name!r} as {shown} bytes hashing to {actual}; "
                f"expected {size} bytes, {expected}. The bytes were discarded."
            )

    @contextmanager
    def _stream(self, method: str, path: str) -> Iterator[httpx.Response]:
        with self._peer_errors(method, path), self._http.stream(method, path) as response:
            yield response

    def put(self, put_path: str, sent: SentFile) -> UploadPutResponse:
        headers = octet_headers(sent.size)
        with sent.open() as handle:
            content = file_body(sent.open_reader(handle), sent.size)
            return self._call(UploadPutResponse, "PUT", put_path, content=content, headers=headers)

    def bundle(self, transfer_ids: list[int], files: list[SentFile]) -> CloneBundleResponse:
        """Many small files in one request: a JSON header line, then their bytes."""
        content, headers = bundle_body(
            transfer_ids, [(f.open, f.size, f.open_reader) for f in files]
        )
        return self._call(
            CloneBundleResponse, "POST", f"{API}/clone/bundle", content=content, headers=headers
        )


def _normalised(checksum: str) -> str:
    try:
        return format_checksum(*parse_checksum(checksum))
    except ChecksumError:
        return checksum
