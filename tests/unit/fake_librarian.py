"""An in-memory fake of the librarian HTTP API, for unit tests without a server.

``FakeLibrarian().transport`` is an ``httpx.MockTransport``: pass it as
``LibrarianClient(url, transport=...)``. It follows the wire contract (stage /
PUT / commit, info, download with Range, search with cursors, tokens, stores,
one ``ErrorResponse`` shape for errors) closely enough to test the client, the
CLI, and pipeline code that uploads through the client. It is not the server:
integration tests exercise the real one.
"""

from __future__ import annotations

import base64
import fnmatch
import json
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
from pydantic import BaseModel

from librarian_client.checksum import format_checksum, new_hasher, normalise_checksum
from librarian_client.models import (
    API_PREFIX,
    CommittedFile,
    FileInfo,
    FileSummary,
    InstanceInfo,
    PingResponse,
    SearchResponse,
    StagedTransfer,
    StageOutcome,
    StoreInfo,
    TokenCreateRequest,
    TokenCreateResponse,
    UploadBundleHeader,
    UploadBundleResponse,
    UploadCancelRequest,
    UploadCancelResponse,
    UploadCommitRequest,
    UploadCommitResponse,
    UploadPutResponse,
    UploadStageRequest,
    UploadStageResponse,
)

__all__ = ["FakeError", "FakeLibrarian", "md5_of"]

EPOCH = datetime(2024, 6, 1, tzinfo=UTC)


def md5_of(data: bytes) -> str:
    hasher = new_hasher("md5")
    hasher.update(data)
    return format_checksum("md5", hasher.hexdigest())


class FakeError(Exception):
    """Raised inside a handler; becomes an ErrorResponse with this status."""

    def __init__(self, status: int, reason: str, remedy: str = "Fix the request.") -> None:
        super().__init__(reason)
        self.status, self.reason, self.remedy = status, reason, remedy


@dataclass
class FakeFile:
    name: str
    data: bytes
    checksum: str
    uploader: str
    created: datetime


@dataclass
class FakeTransfer:
    id: int
    name: str
    size: int
    uploader: str
    local_path: Path | None
    data: bytes | None = None


@dataclass
class FakeLibrarian:
    """State is public so tests can arrange it and assert on it."""

    users: dict[str, str] = field(default_factory=lambda: {"alice": "secret"})
    tokens: dict[str, str] = field(default_factory=dict)
    local_dir: Path | None = None
    store_marker: str | None = None
    store_uuid: str = "fake-store-uuid"
    capacity: int | None = None
    files: dict[str, FakeFile] = field(default_factory=dict)
    transfers: dict[int, FakeTransfer] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    corrupt_downloads: set[str] = field(default_factory=set)

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def count(self, method: str, prefix: str) -> int:
        return sum(1 for m, p in self.requests if m == method and p.startswith(prefix))

    def add_file(self, name: str, data: bytes, uploader: str = "alice") -> FakeFile:
        created = EPOCH + timedelta(seconds=len(self.files))
        self.files[name] = FakeFile(name, data, md5_of(data), uploader, created)
        return self.files[name]

    # -- dispatch -------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.raw_path.decode().split("?", 1)[0]
        self.requests.append((request.method, path))
        try:
            user = self._authenticate(request, required=not path.endswith("/ping"))
            return self._route(request, path, user)
        except FakeError as exc:
            body = {"reason": exc.reason, "suggested_remedy": exc.remedy, "error": "FakeError"}
            return httpx.Response(exc.status, json=body)

    def _route(self, request: httpx.Request, path: str, user: str | None) -> httpx.Response:
        method, api = request.method, f"{API_PREFIX}/"
        if not path.startswith(api):
            raise FakeError(404, f"No route {path}.")
        route = path[len(api) :]
        if (method, route) == ("GET", "ping"):
            return _ok(PingResponse(name="fake", version="0", checksum_algorithm="md5", user=user))
        if (method, route) == ("POST", "upload/stage"):
            return _ok(self._stage(UploadStageRequest.model_validate_json(request.read()), user))
        if (method, route) == ("POST", "upload/cancel"):
            body = UploadCancelRequest.model_validate_json(request.read())
            gone = [t for t in body.transfer_ids if self.transfers.pop(t, None) is not None]
            return _ok(UploadCancelResponse(cancelled=gone))
        if (method, route) == ("POST", "upload/bundle"):
            return _ok(self._bundle(request.read()))
        if method == "PUT" and route.startswith("upload/"):
            return self._put(int(route.rsplit("/", 1)[1]), request.read())
        if (method, route) == ("POST", "upload/commit"):
            return _ok(self._commit(UploadCommitRequest.model_validate_json(request.read())))
        if method == "GET" and route.startswith("files/"):
            return _ok(self._info(_name(route, "files/")))
        if method == "GET" and route.startswith("download/"):
            return self._download(_name(route, "download/"), request.headers.get("Range"))
        if (method, route) == ("GET", "search"):
            return _ok(self._search(dict(request.url.params)))
        if (method, route) == ("POST", "tokens"):
            return _ok(self._token(TokenCreateRequest.model_validate_json(request.read()), user))
        if (method, route) == ("GET", "stores"):
            return _ok_list([self._store()])
        raise FakeError(404, f"No route {method} {path}.")

    def _authenticate(self, request: httpx.Request, *, required: bool) -> str | None:
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme == "Bearer" and value in self.tokens:
            return self.tokens[value]
        if scheme == "Basic":
            username, _, password = base64.b64decode(value).decode().partition(":")
            if self.users.get(username) == password:
                return username
        if header or required:
            raise FakeError(401, "Invalid or missing credentials.", "Log in.")
        return None

    # -- upload ----------------------------------------------------------------------

    def _stage(self, body: UploadStageRequest, user: str | None) -> UploadStageResponse:
        for item in body.files:
            if item.name.startswith("/") or "" in item.name.split("/") or ".." in item.name:
                raise FakeError(400, f"Bad name {item.name!r}.", "Use a relative name.")
        needed = sum(item.size for item in body.files)
        if self.capacity is not None and needed > self.capacity:
            raise FakeError(507, "No store has room for this upload.", "Free space.")
        out: list[StagedTransfer] = []
        for item in body.files:
            existing = self.files.get(item.name)
            if existing is not None:
                if item.checksum is None:
                    outcome = StageOutcome.EXISTS
                elif normalise_checksum(item.checksum) == existing.checksum:
                    outcome = StageOutcome.ALREADY_PRESENT
                else:
                    raise FakeError(409, f"{item.name} exists with different contents.", "Rename.")
                out.append(
                    StagedTransfer(
                        name=item.name,
                        outcome=outcome,
                        existing_checksum=existing.checksum,
                        existing_size=len(existing.data),
                    )
                )
                continue
            tid = len(self.transfers) + 1
            local = self.local_dir / f"{tid}.staged" if self.local_dir else None
            self.transfers[tid] = FakeTransfer(tid, item.name, item.size, user or "", local)
            out.append(
                StagedTransfer(
                    name=item.name,
                    outcome=StageOutcome.STAGED,
                    transfer_id=tid,
                    put_path=f"{API_PREFIX}/upload/{tid}",
                    local_path=str(local) if local else None,
                    store_marker=self.store_marker if local else None,
                    store_uuid=self.store_uuid if local else None,
                )
            )
        return UploadStageResponse(transfers=out)

    def _put(self, tid: int, data: bytes) -> httpx.Response:
        transfer = self._transfer(tid)
        transfer.data = data
        body = UploadPutResponse(transfer_id=tid, size=len(data), checksum=md5_of(data))
        digest = base64.b64encode(bytes.fromhex(body.checksum.split(":")[1])).decode()
        return _ok(body, headers={"Digest": f"md5={digest}"})

    def _bundle(self, body: bytes) -> UploadBundleResponse:
        """Header line, then each transfer's bytes back to back (sizes from stage)."""
        head, _, rest = body.partition(b"\n")
        header = UploadBundleHeader.model_validate_json(head)
        out: list[UploadPutResponse] = []
        offset = 0
        for tid in header.transfer_ids:
            transfer = self._transfer(tid)
            transfer.data = rest[offset : offset + transfer.size]
            offset += transfer.size
            data = transfer.data
            out.append(UploadPutResponse(transfer_id=tid, size=len(data), checksum=md5_of(data)))
        return UploadBundleResponse(files=out)

    def _commit(self, body: UploadCommitRequest) -> UploadCommitResponse:
        received: list[tuple[FakeTransfer, bytes]] = []
        for item in body.files:
            transfer = self._transfer(item.transfer_id)
            data = transfer.data
            if data is None and transfer.local_path and transfer.local_path.exists():
                data = transfer.local_path.read_bytes()
            if data is None or len(data) != transfer.size or item.checksum != md5_of(data):
                raise FakeError(422, f"{transfer.name} does not verify.", "Upload it again.")
            received.append((transfer, data))
        done: list[CommittedFile] = []
        for transfer, data in received:
            self.add_file(transfer.name, data, transfer.uploader)
            del self.transfers[transfer.id]
            done.append(
                CommittedFile(
                    name=transfer.name,
                    transfer_id=transfer.id,
                    size=len(data),
                    checksum=md5_of(data),
                )
            )
        return UploadCommitResponse(files=done)

    def _transfer(self, tid: int) -> FakeTransfer:
        if tid not in self.transfers:
            raise FakeError(404, f"No staged transfer {tid}.")
        return self.transfers[tid]

    # -- catalogue -------------------------------------------------------------------------

    def _file(self, name: str) -> FakeFile:
        if name not in self.files:
            raise FakeError(404, f"No file named {name!r}.", "Check the name.")
        return self.files[name]

    def _summary(self, f: FakeFile) -> dict[str, Any]:
        return {
            "name": f.name,
            "size": len(f.data),
            "checksum": f.checksum,
            "uploader": f.uploader,
            "source": "fake",
            "created_time": f.created,
        }

    def _info(self, name: str) -> FileInfo:
        f = self._file(name)
        instance = InstanceInfo(store="store1", path=name, available=True, created_time=f.created)
        return FileInfo(**self._summary(f), instances=[instance])

    def _download(self, name: str, range_header: str | None) -> httpx.Response:
        f = self._file(name)
        data = f.data
        if name in self.corrupt_downloads:
            data = bytes([data[0] ^ 0xFF]) + data[1:] if data else b"x"
        status = 200
        if range_header:
            start_text, _, end_text = range_header.removeprefix("bytes=").partition("-")
            start, end = int(start_text), int(end_text) if end_text else len(data) - 1
            if start >= len(data):
                raise FakeError(416, "Bad range.", "Ask for less.")
            data, status = data[start : end + 1], 206
        headers = {"Content-Length": str(len(data)), "X-Librarian-Checksum": f.checksum}
        return httpx.Response(status, headers=headers, stream=httpx.ByteStream(data))

    def _search(self, params: dict[str, str]) -> SearchResponse:
        limit = int(params.get("limit", "1000"))
        if not 1 <= limit <= 10_000:
            raise FakeError(400, "limit must be between 1 and 10000.")
        after = params.get("cursor")
        matches: list[FileSummary] = []
        for name in sorted(self.files):
            f = self.files[name]
            if after is not None and name <= after:
                continue
            if not _matches(f, params):
                continue
            matches.append(FileSummary(**self._summary(f)))
            if len(matches) == limit:
                break
        more = len(matches) == limit and any(
            n > matches[-1].name and _matches(self.files[n], params) for n in self.files
        )
        return SearchResponse(files=matches, next_cursor=matches[-1].name if more else None)

    def _token(self, body: TokenCreateRequest, user: str | None) -> TokenCreateResponse:
        token = secrets.token_urlsafe(16)
        self.tokens[token] = user or ""
        expires = (
            EPOCH + timedelta(seconds=body.expires_in_seconds) if body.expires_in_seconds else None
        )
        return TokenCreateResponse(token=token, user=user or "", expires_at=expires)

    def _store(self) -> StoreInfo:
        used = sum(len(f.data) for f in self.files.values())
        capacity = self.capacity
        return StoreInfo(
            name="store1",
            kind="posix",
            root="/data/store1",
            capacity_bytes=capacity,
            used_bytes=used,
            free_bytes=(capacity - used) if capacity is not None else 10**12,
            enabled=True,
            accepts_ingest=True,
        )


def _matches(f: FakeFile, params: dict[str, str]) -> bool:
    checks = [
        "name" not in params or fnmatch.fnmatchcase(f.name, params["name"]),
        f.name.startswith(params.get("prefix", "")),
        len(f.data) >= int(params.get("min_size", 0)),
        "max_size" not in params or len(f.data) <= int(params["max_size"]),
        params.get("uploader", f.uploader) == f.uploader,
        "created_after" not in params
        or f.created > datetime.fromisoformat(params["created_after"]),
        "created_before" not in params
        or f.created < datetime.fromisoformat(params["created_before"]),
    ]
    return all(checks)


def _name(route: str, prefix: str) -> str:
    return "/".join(unquote(part) for part in route[len(prefix) :].split("/"))


def _ok(model: BaseModel, headers: dict[str, str] | None = None) -> httpx.Response:
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    return httpx.Response(200, content=model.model_dump_json(), headers=all_headers)


def _ok_list(models: list[StoreInfo]) -> httpx.Response:
    return httpx.Response(200, content=json.dumps([m.model_dump(mode="json") for m in models]))
