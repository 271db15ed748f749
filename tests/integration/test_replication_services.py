"""The sending side's decisions on a real database: what to send, retries, check-ins, peers."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import insert, select, text, update
from sqlalchemy.exc import IntegrityError

from librarian_client.models import CheckinItem, CheckinRequest, PermissionLevel, TransferStatus
from librarian_server.errors import Conflict, InvalidRequest, NotFound, PermissionDenied
from librarian_server.orm import (
    File,
    OutgoingTransfer,
    Peer,
    RemoteInstance,
    SendQueue,
    utcnow,
)
from librarian_server.services.accounts.auth import AuthenticatedUser
from librarian_server.services.core.credentials import CredentialBox
from librarian_server.services.replication import outgoing, peers, send_plan, transfer_admin
from librarian_server.services.replication.checkins import record_checkins
from tests.integration.conftest import Site
from tests.integration.helpers import upload

SECRET = "peer-secret-9f3"


@pytest.fixture
def source(make_site: Callable[..., Site]) -> Site:
    return make_site(
        site_name="mountain", replication={"max_attempts": 3, "retry_backoff_seconds": 60}
    )


def _add_peer(site: Site, name: str = "ucsd", **policy: object) -> None:
    with site.factory.begin() as session:
        peers.add_peer(
            session,
            name=name,
            url="http://127.0.0.1:9",
            username="mountain",
            password=SECRET,
            box=CredentialBox.for_settings(site.settings),
            settings=site.settings,
            **policy,  # type: ignore[arg-type]
        )


def _queued(site: Site, peer: str = "ucsd") -> list[str]:
    with site.session() as session:
        return sorted(
            session.scalars(
                select(OutgoingTransfer.file_name).where(OutgoingTransfer.destination == peer)
            )
        )


def _plan(site: Site, peer: str = "ucsd", batch_size: int = 1000) -> dict[str, int]:
    return send_plan.plan(site.factory, peer, site.settings, batch_size=batch_size, limit=10_000)


def _set_source(site: Site, name: str, origin: str) -> None:
    with site.factory.begin() as session:
        session.execute(update(File).where(File.name == name).values(source=origin))


def test_policy_decides_what_a_peer_gets(source: Site) -> None:
    for name in ("obs/a", "obs/b", "cal/c", "other/d", "back/e"):
        upload(source.http, source.auth(), name, os.urandom(50))
    _set_source(source, "other/d", "chile")  # came here from a third site
    _set_source(source, "back/e", "ucsd")  # came here from the peer itself
    _add_peer(source, name_glob="obs/*")
    assert _plan(source) == {"queued": 2, "batches": 1}
    assert _queued(source) == ["obs/a", "obs/b"]

    _add_peer(source, name="lbl")  # no glob: everything this site originated
    _plan(source, "lbl")
    assert _queued(source, "lbl") == ["cal/c", "obs/a", "obs/b"]

    _add_peer(source, name="nersc", forward=True)  # forwards, but never back to the origin
    _plan(source, "nersc")
    assert _queued(source, "nersc") == ["back/e", "cal/c", "obs/a", "obs/b", "other/d"]
    _plan(source, "ucsd")
    with source.session() as session:
        assert "back/e" not in _queued(source) and session.get(Peer, 1) is not None

    _add_peer(source, name="later", created_after=utcnow() + timedelta(days=1))
    assert _plan(source, "later") == {"queued": 0, "batches": 0}


def test_known_copies_and_failures_are_not_sent_again(source: Site) -> None:
    for name in ("k/held", "k/failed", "k/done", "k/new"):
        upload(source.http, source.auth(), name, os.urandom(20))
    _add_peer(source)
    now = utcnow()
    with source.factory.begin() as session:
        session.add(RemoteInstance(file_name="k/held", site="ucsd", copy_time=now))
        for name, status in (
            ("k/failed", TransferStatus.FAILED),
            ("k/done", TransferStatus.COMPLETED),
        ):
            session.add(
                OutgoingTransfer(
                    file_name=name, destination="ucsd", status=status, size=20, checksum="md5:0"
                )
            )
    _plan(source)
    live = [t for t in _live(source)]
    # done was COMPLETED but ucsd is not known to hold it: sent again; failed waits for retry.
    assert sorted(live) == ["k/done", "k/new"]
    assert _plan(source) == {"queued": 0, "batches": 0}  # planning twice adds nothing


def _live(site: Site) -> list[str]:
    with site.session() as session:
        return list(
            session.scalars(
                select(OutgoingTransfer.file_name).where(
                    OutgoingTransfer.status == TransferStatus.INITIATED
                )
            )
        )


def test_one_live_transfer_per_file_and_peer_is_enforced_by_the_database(source: Site) -> None:
    upload(source.http, source.auth(), "u/x", b"abc")
    row = {
        "file_name": "u/x",
        "destination": "ucsd",
        "status": "INITIATED",
        "size": 3,
        "checksum": "md5:0",
    }
    with source.factory.begin() as session:
        session.execute(insert(OutgoingTransfer), [row])
    with pytest.raises(IntegrityError), source.factory.begin() as session:
        session.execute(insert(OutgoingTransfer), [row | {"status": "ONGOING"}])
    with source.factory.begin() as session:  # a finished one may sit beside it
        session.execute(insert(OutgoingTransfer), [row | {"status": "FAILED"}])


def test_failed_attempts_back_off_then_fail_for_good(source: Site) -> None:
    upload(source.http, source.auth(), "r/x", b"abc")
    _add_peer(source)
    _plan(source)
    with source.session() as session:
        (transfer_id,) = session.scalars(select(OutgoingTransfer.id))
    replication = source.settings.replication
    for attempt in (1, 2):
        with source.factory.begin() as session:
            assert outgoing.retry_or_fail(
                session, {transfer_id: f"try {attempt}"}, settings=replication
            ) == (1, 0)
        with source.session() as session:
            row = session.get(OutgoingTransfer, transfer_id)
            assert row is not None and row.status is TransferStatus.INITIATED
            assert row.send_queue_id is None and row.attempts == attempt
            wait = (row.next_attempt_at - utcnow()).total_seconds()
            assert 60 * 2 ** (attempt - 1) - 5 < wait <= 60 * 2 ** (attempt - 1)
        assert _plan(source) == {"queued": 0, "batches": 0}  # still backing off
    with source.factory.begin() as session:
        assert outgoing.retry_or_fail(session, {transfer_id: "try 3"}, settings=replication) == (
            0,
            1,
        )
        row = session.get(OutgoingTransfer, transfer_id)
        assert row is not None and row.status is TransferStatus.FAILED and row.error == "try 3"
    # An operator's retry starts over; a cancel stops it; neither applies twice.
    with source.factory.begin() as session:
        assert (
            transfer_admin.retry_outgoing(session, transfer_id).status is TransferStatus.INITIATED
        )
    assert _plan(source) == {"queued": 1, "batches": 1}
    with source.factory.begin() as session:
        with pytest.raises(Conflict):
            transfer_admin.retry_outgoing(session, transfer_id)
        assert (
            transfer_admin.cancel_outgoing(session, transfer_id, by="admin").status
            is TransferStatus.CANCELLED
        )
        with pytest.raises(Conflict):
            transfer_admin.cancel_outgoing(session, transfer_id, by="admin")
        with pytest.raises(NotFound):
            transfer_admin.retry_outgoing(session, 999_999)


def test_checkins_complete_retry_or_are_unknown(source: Site) -> None:
    for name in ("c/good", "c/bad", "c/refused"):
        upload(source.http, source.auth(), name, name.encode())
    _add_peer(source)
    _plan(source)
    with source.session() as session:
        ids = {t.file_name: (t.id, t.checksum) for t in session.scalars(select(OutgoingTransfer))}
    request = CheckinRequest(
        site="ucsd",
        files=[
            CheckinItem(
                source_transfer_id=ids["c/good"][0],
                name="c/good",
                committed=True,
                checksum=ids["c/good"][1],
            ),
            CheckinItem(
                source_transfer_id=ids["c/bad"][0],
                name="c/bad",
                committed=True,
                checksum="md5:" + "0" * 32,
            ),
            CheckinItem(
                source_transfer_id=ids["c/refused"][0],
                name="c/refused",
                committed=False,
                reason="disk full",
            ),
            CheckinItem(source_transfer_id=424242, name="c/none", committed=True, checksum="md5:1"),
        ],
    )
    peer_user = AuthenticatedUser(5, "ucsd", PermissionLevel.PEER)
    with source.factory.begin() as session:
        answer = record_checkins(session, request, user=peer_user, settings=source.settings)
    assert answer.unknown == [424242] and len(answer.recorded) == 3
    with source.session() as session:
        rows = {t.file_name: t for t in session.scalars(select(OutgoingTransfer))}
        assert rows["c/good"].status is TransferStatus.COMPLETED
        assert rows["c/bad"].status is TransferStatus.INITIATED and "reports" in (
            rows["c/bad"].error or ""
        )
        assert rows["c/refused"].error == "refused by ucsd: disk full"
        assert list(session.scalars(select(RemoteInstance.file_name))) == ["c/good"]
    with pytest.raises(PermissionDenied), source.factory.begin() as session:
        other = AuthenticatedUser(6, "lbl", PermissionLevel.PEER)
        record_checkins(session, request, user=other, settings=source.settings)


def test_peer_credentials_are_sealed_and_policy_is_validated(source: Site) -> None:
    _add_peer(source)
    key = source.settings.secret_key_path
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    with source.session() as session:
        dumped = " ".join(str(v) for v in session.execute(text("SELECT * FROM librarians")).one())
        assert SECRET not in dumped
        peer = peers.get_peer(session, "ucsd")
        assert CredentialBox.for_settings(source.settings).open(peer.sealed_password) == SECRET
        assert SECRET not in peers.peer_info(peer).model_dump_json()
    for bad in (
        {"name": "mountain"},
        {"name": "bad name"},
        {"url": "ftp://x"},
        {"managers": ["carrier-pigeon"]},
    ):
        with pytest.raises(InvalidRequest), source.factory.begin() as session:
            peers.add_peer(
                session,
                **({"name": "x", "url": "http://x", "username": "u", "password": "p"} | bad),
                box=CredentialBox.for_settings(source.settings),
                settings=source.settings,
            )
    upload(source.http, source.auth(), "p/x", b"1")
    _plan(source)
    with source.factory.begin() as session:
        peers.update_peer(
            session,
            "ucsd",
            box=CredentialBox.for_settings(source.settings),
            push=False,
            name_glob="a/*",
        )
        assert peers.remove_peer(session, "ucsd") == 1
        assert session.scalar(select(OutgoingTransfer.status)) is TransferStatus.CANCELLED


def test_admin_api_runs_tasks_and_lists_batches(source: Site) -> None:
    upload(source.http, source.auth(), "t/x", b"123")
    _add_peer(source)
    admin = source.auth("admin")
    r = source.http.post("/api/v2/tasks/send_clone/run", auth=admin)
    assert r.status_code == 200
    result = r.json()
    # The peer's URL goes nowhere: the batch failed as a whole, the peer backs off, and
    # its file waits for it without spending an attempt.
    assert result["ok"] is True and result["summary"]["queued"] == 1
    queues = source.http.get("/api/v2/queues", auth=admin).json()
    assert queues[0]["status"] == "FAILED" and "unreachable" in queues[0]["error"]
    listing = source.http.get(
        "/api/v2/transfers", auth=admin, params={"status": "INITIATED"}
    ).json()
    assert (
        listing["transfers"][0]["attempts"] == 0
        and "unreachable" in listing["transfers"][0]["error"]
    )
    assert source.http.post("/api/v2/tasks/nonesuch/run", auth=admin).status_code == 404
    assert (
        source.http.post("/api/v2/tasks/cleanup/run", auth=source.auth("writer")).status_code == 403
    )
    peers_seen = source.http.get("/api/v2/peers", auth=admin).json()
    assert peers_seen[0]["name"] == "ucsd" and peers_seen[0]["last_error"]
    assert peers_seen[0]["health"] == "backing-off" and peers_seen[0]["consecutive_failures"] == 1
    with source.session() as session:
        assert session.scalar(select(SendQueue.claimed_until)) is None  # the claim was let go


def test_planning_scans_what_is_new_and_sweeps_everything_now_and_then(source: Site) -> None:
    _add_peer(source)
    upload(source.http, source.auth(), "w/new", b"1")
    assert _plan(source)["queued"] == 1
    # A file that appears with an old creation time, older than the look-back (say, a
    # commit that landed very late), is not in the scan of what is new...
    upload(source.http, source.auth(), "w/late", b"2")
    with source.factory.begin() as session:
        session.execute(
            update(File)
            .where(File.name == "w/late")
            .values(created_time=utcnow() - timedelta(days=2))
        )
    assert _plan(source)["queued"] == 0
    # ...but the daily full sweep finds it,
    with source.factory.begin() as session:
        peer = peers.get_peer(session, "ucsd")
        peer.swept_time = utcnow() - timedelta(hours=25)
    assert _plan(source)["queued"] == 1 and "w/late" in _queued(source)
    # and so does the sweep after a policy change.
    upload(source.http, source.auth(), "w/later", b"3")
    with source.factory.begin() as session:
        session.execute(
            update(File)
            .where(File.name == "w/later")
            .values(created_time=utcnow() - timedelta(days=2))
        )
    assert _plan(source)["queued"] == 0
    with source.factory.begin() as session:
        peers.update_peer(
            session, "ucsd", box=CredentialBox.for_settings(source.settings), forward=True
        )
    assert _plan(source)["queued"] == 1 and "w/later" in _queued(source)
