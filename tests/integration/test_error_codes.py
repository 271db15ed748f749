"""Error codes on real paths: the server's answer, the client's exception, the CLI's line.

A 409 for a transfer still running is not a file that exists; a peer that is down is a
502 of its own; an error inside a streamed sneakernet ingest keeps its real status and
code instead of a 500 "try again later".
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from librarian_client.cli import main
from librarian_client.config import Connection, save_connection
from librarian_client.exceptions import (
    AlreadyExists,
    InsufficientStorage,
    PeerError,
    TransferRunning,
    error_from_response,
)
from librarian_client.models import ErrorCode, PermissionLevel, TransferStatus
from librarian_server.orm import OutgoingTransfer, Peer, Store
from librarian_server.services.accounts.auth import create_user
from librarian_server.services.core.credentials import CredentialBox
from librarian_server.services.replication import peers
from tests import pg
from tests.integration.conftest import PASSWORD, Site
from tests.integration.helpers import md5, stage, upload

DOWN = "http://127.0.0.1:9"  # port 9 refuses connections


PEER_PASSWORD = "peer-secret"


def _add_peer(
    site: Site, name: str, url: str = DOWN, *, calls_back: bool = False, push: bool = True
) -> None:
    with site.factory.begin() as session:
        if calls_back:  # the peer has an account here too (it signs and checks disks)
            create_user(session, name, PEER_PASSWORD, PermissionLevel.PEER)
        peers.add_peer(
            session,
            name=name,
            url=url,
            username=site.settings.site_name,
            password=PEER_PASSWORD,
            box=CredentialBox.for_settings(site.settings),
            settings=site.settings,
            push=push,
        )


def _cli(site: Site, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    """Run the CLI as the site's admin; its exit status and stderr."""
    save_connection(
        "test",
        Connection.model_validate(
            {"url": "http://testserver", "username": "admin", "password": PASSWORD}
        ),
    )
    capsys.readouterr()
    code = main(list(argv), transport=site.http._transport)
    return code, capsys.readouterr().err


def _send(site: Site) -> None:
    r = site.http.post("/api/v2/tasks/send_clone/run", auth=site.auth("admin"))
    assert r.status_code == 200 and r.json()["ok"], r.text


def test_a_running_transfer_is_not_a_file_that_exists(
    make_site: Callable[..., Site], capsys: pytest.CaptureFixture[str]
) -> None:
    site = make_site(site_name="mountain")
    upload(site.http, site.auth(), "r/a", b"alpha")
    _add_peer(site, "ucsd")
    _send(site)  # the peer is down: the transfer waits in the pool
    with site.factory.begin() as session:
        session.execute(update(OutgoingTransfer).values(status=TransferStatus.ONGOING))
    with site.session() as session:
        (transfer_id,) = session.scalars(select(OutgoingTransfer.id)).all()

    r = site.http.post(f"/api/v2/transfers/{transfer_id}/retry", auth=site.auth("admin"))
    assert r.status_code == 409 and r.json()["code"] == "transfer_running"
    with pytest.raises(TransferRunning) as running:
        site.client("admin").retry_transfer(transfer_id)
    assert not isinstance(running.value, AlreadyExists)
    assert running.value.code is ErrorCode.TRANSFER_RUNNING
    assert "is ONGOING" in running.value.reason and "immutable" not in str(running.value)
    code, err = _cli(site, capsys, "transfers", "retry", str(transfer_id))
    assert code == 1 and len(err.splitlines()) == 1
    assert "is ONGOING" in err and err.endswith(" [transfer_running]\n"), err

    # The same status for a file that exists with other contents is another code.
    declared = {"name": "r/a", "size": 4, "checksum": md5(b"beta")}
    exists = stage(site.http, site.auth(), [declared])
    assert exists.status_code == 409 and exists.json()["code"] == "file_exists"
    clash = error_from_response(exists)
    assert type(clash) is AlreadyExists and clash.code is ErrorCode.FILE_EXISTS


def test_a_peer_that_is_down_is_a_502_peer_error(make_site: Callable[..., Site]) -> None:
    site = make_site(site_name="mountain")
    _add_peer(site, "ucsd")
    dialer = peers.PeerDialer.for_settings(site.settings)

    def ask_the_peer() -> None:  # a route that needs the peer, as a proxying one would
        with site.session() as session:
            peer = session.scalars(select(Peer)).one()
        with dialer.open(peer) as client:
            client.ping()

    app = site.http.app
    assert isinstance(app, FastAPI)
    app.add_api_route("/api/v2/ask-the-peer", ask_the_peer)

    r = site.http.get("/api/v2/ask-the-peer", auth=site.auth())
    assert r.status_code == 502
    body = r.json()
    assert body["code"] == "peer_error" and "unreachable" in body["reason"]
    exc = error_from_response(r)
    assert type(exc) is PeerError and exc.code is ErrorCode.PEER_ERROR
    assert exc.status_code == 502 and "unreachable" in exc.reason


@pytest.fixture
def two_sites(
    make_site: Callable[..., Site], database_url: str | None, tmp_path: Path
) -> Iterator[tuple[Site, Site]]:
    mountain = make_site(site_name="mountain", data_dir=tmp_path / "mountain")
    with pg.temporary_database() if database_url else _NoDatabase() as other_url:
        ucsd = make_site(site_name="ucsd", data_dir=tmp_path / "ucsd", database_url=other_url)
        _add_peer(mountain, "ucsd", "http://ucsd.invalid", calls_back=True, push=False)
        _add_peer(ucsd, "mountain", "http://mountain.invalid", calls_back=True, push=False)
        yield mountain, ucsd


class _NoDatabase:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _events(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    return [json.loads(line) for line in response.text.splitlines() if line]


def test_an_error_inside_a_streamed_ingest_keeps_its_status_and_code(
    two_sites: tuple[Site, Site], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mountain, ucsd = two_sites
    upload(mountain.http, mountain.auth(), "s/a", b"a" * 100)
    disk = tmp_path / "disk"
    disk.mkdir()
    r = mountain.http.post(
        "/api/v2/sneakernet/export",
        json={"peer": "ucsd", "path": str(disk)},
        auth=mountain.auth("admin"),
    )
    assert _events(r)[-1]["export"]["files"] == 1
    with ucsd.factory.begin() as session:  # no room left at the receiving site
        session.execute(update(Store).values(capacity_bytes=1))

    r = ucsd.http.post(
        "/api/v2/sneakernet/ingest",
        json={"path": str(disk)},
        auth=ucsd.auth("admin"),
    )
    last = _events(r)[-1]
    assert last["event"] == "error"
    assert (last["status"], last["code"]) == (507, "insufficient_storage")
    assert "room" in last["reason"] and last["suggested_remedy"]

    with pytest.raises(InsufficientStorage) as info:
        list(ucsd.client("admin").sneakernet_ingest(str(disk)))
    exc = info.value
    assert (exc.status_code, exc.code) == (507, ErrorCode.INSUFFICIENT_STORAGE)
    assert exc.reason == last["reason"] and exc.suggested_remedy == last["suggested_remedy"]

    code, err = _cli(ucsd, capsys, "sneakernet", "ingest", str(disk))
    assert code == 1 and len(err.splitlines()) == 1
    assert err.startswith(f"librarian: error: {last['reason']}")
    assert f"({last['suggested_remedy']}) [insufficient_storage]" in err
    assert "try again later" not in err.lower()
