"""Resuming an interrupted upload PUT from the bytes the server holds, on SQLite and PostgreSQL.

The interruption is a real request body that ends in ``ClientDisconnect`` (what
Starlette raises when the client goes away), fed to the receive service; the resume
goes over HTTP like any client's.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from sqlalchemy import select
from starlette.requests import ClientDisconnect

from librarian_client.models import PermissionLevel, TransferStatus
from librarian_server.orm import IncomingTransfer, User
from librarian_server.services.accounts.auth import AuthenticatedUser
from librarian_server.services.ingest import receive, resume
from tests.integration.conftest import Site
from tests.integration.helpers import md5, stage

MiB = 1 << 20


def writer(site: Site) -> AuthenticatedUser:
    with site.session() as s:
        user = s.scalars(select(User).where(User.name == "writer")).one()
        return AuthenticatedUser(user.id, user.name, PermissionLevel.READAPPEND)


def interrupted_put(site: Site, transfer_id: int, sent: bytes, *, resumable: bool = True) -> None:
    """Send ``sent`` (in 256 KiB pieces) and then vanish, as a killed client would.

    ``resumable`` as the upload PUT endpoint asks (peers and VOSpace pushes do not).
    """

    async def body() -> AsyncIterator[bytes]:
        for start in range(0, len(sent), 256 * 1024):
            yield sent[start : start + 256 * 1024]
        raise ClientDisconnect()

    async def go() -> None:
        with pytest.raises(ClientDisconnect):
            await receive.receive(
                site.factory, transfer_id, body(), user=writer(site), resumable=resumable
            )

    anyio.run(go)


def staged(site: Site, name: str, size: int, **extra: Any) -> dict[str, Any]:
    r = stage(site.http, site.auth(), [{"name": name, "size": size, **extra}])
    assert r.status_code == 200, r.text
    transfer: dict[str, Any] = r.json()["transfers"][0]
    return transfer


def test_an_interrupted_put_resumes_from_the_held_offset(site: Site) -> None:
    data = os.urandom(5 * MiB + 123)
    t = staged(site, "big/resumed.bin", len(data))
    interrupted_put(site, t["transfer_id"], data[: 3 * MiB + 7])

    r = site.http.get(t["put_path"], auth=site.auth())
    assert r.status_code == 200, r.text
    held = r.json()
    assert held["offset"] == 3 * MiB + 7 and held["status"] == "INITIATED"
    assert held["name"] == "big/resumed.bin" and held["expected_size"] == len(data)
    # Another user may not look at (or resume) the writer's transfer.
    assert site.http.get(t["put_path"], auth=site.auth("reader")).status_code == 403

    offset = held["offset"]
    r = site.http.put(
        t["put_path"], params={"offset": offset}, content=data[offset:], auth=site.auth()
    )
    assert r.status_code == 200, r.text
    # Only the remainder travelled, and the checksum covers the whole file.
    assert r.json() == {
        "transfer_id": t["transfer_id"],
        "size": len(data),
        "checksum": md5(data),
        "offset": offset,
    }
    r = site.http.post(
        "/api/v2/upload/commit",
        json={"files": [{"transfer_id": t["transfer_id"], "checksum": md5(data)}]},
        auth=site.auth(),
    )
    assert r.status_code == 200, r.text
    content = site.http.get("/api/v2/download/big/resumed.bin", auth=site.auth())
    assert content.content == data


def test_a_resume_whose_earlier_part_differs_fails_at_the_checksum(site: Site) -> None:
    first, second = os.urandom(2 * MiB), os.urandom(2 * MiB)
    t = staged(site, "big/changed.bin", len(second))
    interrupted_put(site, t["transfer_id"], first[:MiB])
    r = site.http.put(t["put_path"], params={"offset": MiB}, content=second[MiB:], auth=site.auth())
    assert r.status_code == 200 and r.json()["checksum"] == md5(first[:MiB] + second[MiB:])
    r = site.http.post(
        "/api/v2/upload/commit",
        json={"files": [{"transfer_id": t["transfer_id"], "checksum": md5(second)}]},
        auth=site.auth(),
    )
    assert r.status_code == 422 and "checksum mismatch" in r.json()["reason"]
    with site.session() as s:
        transfer = s.get(IncomingTransfer, t["transfer_id"])
        assert transfer is not None and transfer.status == TransferStatus.FAILED
        assert not Path(transfer.staging_path).exists()


def test_a_resume_with_the_checksum_declared_fails_at_the_put(site: Site) -> None:
    first, second = os.urandom(2 * MiB), os.urandom(2 * MiB)
    t = staged(site, "big/declared.bin", len(second), checksum=md5(second))
    interrupted_put(site, t["transfer_id"], first[:MiB])
    r = site.http.put(t["put_path"], params={"offset": MiB}, content=second[MiB:], auth=site.auth())
    assert r.status_code == 422 and "checksum mismatch" in r.json()["reason"]
    assert r.json()["suggested_remedy"]
    held = site.http.get(t["put_path"], auth=site.auth()).json()
    assert held["status"] == "FAILED" and held["offset"] == 0


def test_offsets_the_server_does_not_hold_are_refused(site: Site) -> None:
    data = os.urandom(2 * MiB)
    t = staged(site, "big/offsets.bin", len(data))
    interrupted_put(site, t["transfer_id"], data[:MiB])
    beyond = site.http.put(
        t["put_path"], params={"offset": MiB + 1}, content=data[MiB + 1 :], auth=site.auth()
    )
    assert beyond.status_code == 409
    assert f"holds {MiB} bytes" in beyond.json()["reason"]
    assert f"resume from {MiB}" in beyond.json()["suggested_remedy"]
    past_end = site.http.put(
        t["put_path"], params={"offset": 3 * MiB}, content=b"", auth=site.auth()
    )
    assert past_end.status_code == 400 and past_end.json()["suggested_remedy"]
    # Neither refusal cost the bytes held.
    assert site.http.get(t["put_path"], auth=site.auth()).json()["offset"] == MiB


def test_one_request_at_a_time_per_transfer(site: Site) -> None:
    data = os.urandom(MiB)
    t = staged(site, "big/locked.bin", len(data))
    interrupted_put(site, t["transfer_id"], data[:1000])
    with site.session() as s:
        transfer = s.get(IncomingTransfer, t["transfer_id"])
        assert transfer is not None
        path = Path(transfer.staging_path)
    with resume.exclusive(path):  # as a PUT still writing would hold it
        busy = site.http.get(t["put_path"], auth=site.auth())
        assert busy.status_code == 409 and "still sending" in busy.json()["reason"]
        put = site.http.put(
            t["put_path"], params={"offset": 1000}, content=data[1000:], auth=site.auth()
        )
        assert put.status_code == 409
    r = site.http.put(t["put_path"], params={"offset": 1000}, content=data[1000:], auth=site.auth())
    assert r.status_code == 200 and r.json()["checksum"] == md5(data)


def test_a_put_from_zero_replaces_what_was_held(site: Site) -> None:
    data = os.urandom(MiB)
    t = staged(site, "big/restart.bin", len(data))
    interrupted_put(site, t["transfer_id"], os.urandom(600_000))
    r = site.http.put(t["put_path"], content=data, auth=site.auth())
    assert r.status_code == 200 and r.json()["checksum"] == md5(data)
    assert r.json()["offset"] == 0


def test_a_put_that_starts_over_anyway_keeps_nothing(site: Site) -> None:
    """A peer's or a VOSpace push's PUT: the sender starts again from zero."""
    t = staged(site, "big/peer.bin", 2 * MiB)
    interrupted_put(site, t["transfer_id"], os.urandom(MiB), resumable=False)
    with site.session() as s:
        transfer = s.get(IncomingTransfer, t["transfer_id"])
        assert transfer is not None and not Path(transfer.staging_path).exists()
    assert site.http.get(t["put_path"], auth=site.auth()).json()["offset"] == 0
