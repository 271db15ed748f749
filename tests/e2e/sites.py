"""Several live sites on loopback, linked as peers the way an operator would do it."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any

import httpx

from tests.e2e.conftest import LiveServer

FAST_BACKGROUND = {
    # Every task often, retries soon: tests wait seconds, not the production minutes.
    "LIBRARIAN_SERVER_BACKGROUND__SEND_CLONE__EVERY_SECONDS": "0.5",
    "LIBRARIAN_SERVER_BACKGROUND__CONSUME_QUEUE__EVERY_SECONDS": "1",
    "LIBRARIAN_SERVER_BACKGROUND__RECEIVE_CLONE__EVERY_SECONDS": "0.5",
    "LIBRARIAN_SERVER_BACKGROUND__SEND_CHECKINS__EVERY_SECONDS": "0.5",
    "LIBRARIAN_SERVER_BACKGROUND__HYPERVISOR__EVERY_SECONDS": "2",
    "LIBRARIAN_SERVER_REPLICATION__RETRY_BACKOFF_SECONDS": "0.5",
    "LIBRARIAN_SERVER_REPLICATION__RETRY_BACKOFF_MAX_SECONDS": "2",
    "LIBRARIAN_SERVER_REPLICATION__PEER_TIMEOUT_SECONDS": "20",
}


def site_env(name: str, **extra: str) -> dict[str, str]:
    return {"LIBRARIAN_SERVER_SITE_NAME": name, **FAST_BACKGROUND, **extra}


def link(source: LiveServer, dest: LiveServer, *flags: str, url: str | None = None) -> None:
    """``source`` pushes to ``dest``: a peer account at ``dest``, a peer entry at ``source``."""
    password = secrets.token_urlsafe(16)
    account = dest.secrets_dir / f"peer-{source.site}.password"
    account.touch(mode=0o600)
    account.write_text(password + "\n")
    dest.admin("create-user", source.site, "--level", "peer", "--password-file", str(account))
    source.admin(
        "add-peer",
        dest.site,
        url or dest.url,
        "--username",
        source.site,
        "--password-file",
        str(account),
        *flags,
    )


def admin_http(server: LiveServer) -> httpx.Client:
    return server.http("admin")


def wait_for(condition: Callable[[], Any], *, timeout: float = 90, what: str = "condition") -> Any:
    """Poll until ``condition()`` is truthy; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.25)


def outgoing(server: LiveServer, **params: str) -> list[dict[str, Any]]:
    with admin_http(server) as http:
        response = http.get(
            "/api/v2/transfers", params={"direction": "outgoing", "limit": "10000", **params}
        )
    response.raise_for_status()
    rows: list[dict[str, Any]] = response.json()["transfers"]
    return rows


def incoming(server: LiveServer, **params: str) -> list[dict[str, Any]]:
    with admin_http(server) as http:
        response = http.get(
            "/api/v2/transfers", params={"direction": "incoming", "limit": "10000", **params}
        )
    response.raise_for_status()
    rows: list[dict[str, Any]] = response.json()["transfers"]
    return rows


def file_info(server: LiveServer, name: str) -> dict[str, Any] | None:
    with admin_http(server) as http:
        response = http.get(f"/api/v2/files/{name}")
    if response.status_code == 404:
        return None
    response.raise_for_status()
    info: dict[str, Any] = response.json()
    return info


def has_files(server: LiveServer, names: list[str]) -> bool:
    with admin_http(server) as http:
        present: set[str] = set()
        cursor = None
        while True:
            params = {"limit": "10000", **({"cursor": cursor} if cursor else {})}
            page = http.get("/api/v2/search", params=params).json()
            present.update(f["name"] for f in page["files"])
            cursor = page.get("next_cursor")
            if not cursor:
                break
    return set(names) <= present
