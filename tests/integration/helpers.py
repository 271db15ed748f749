"""Raw-HTTP helpers for driving the upload pipeline step by step."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
from fastapi.testclient import TestClient

from librarian_client.models import API_PREFIX
from librarian_server.orm import Store
from librarian_server.stores import PosixStore, backend_for


def md5(data: bytes) -> str:
    return "md5:" + hashlib.md5(data).hexdigest()  # noqa: S324 - a checksum, not security


def stage(
    http: TestClient,
    auth: tuple[str, str],
    files: list[dict[str, Any]],
) -> httpx.Response:
    return http.post(f"{API_PREFIX}/upload/stage", json={"files": files}, auth=auth)


def upload(http: TestClient, auth: tuple[str, str], name: str, data: bytes) -> dict[str, Any]:
    """Stage, PUT and commit one file; assert each step succeeds."""
    r = stage(http, auth, [{"name": name, "size": len(data)}])
    assert r.status_code == 200, r.text
    transfer = r.json()["transfers"][0]
    r = http.put(transfer["put_path"], content=data, auth=auth)
    assert r.status_code == 200, r.text
    r = http.post(
        f"{API_PREFIX}/upload/commit",
        json={"files": [{"transfer_id": transfer["transfer_id"], "checksum": md5(data)}]},
        auth=auth,
    )
    assert r.status_code == 200, r.text
    committed: dict[str, Any] = r.json()["files"][0]
    return committed


def posix_backend(store: Store) -> PosixStore:
    """The backend of a store these tests made on a directory (its files have paths)."""
    backend = backend_for(store)
    assert isinstance(backend, PosixStore)
    return backend
