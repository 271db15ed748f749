"""A peer that cannot be reached backs off; its files keep their attempts; bulk retry.

The peer is a real address on loopback: port 9 refuses connections, and a small
HTTP server answers every request with the status a test chooses.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import select, update

from librarian_client.cli import main
from librarian_client.config import Connection, save_connection
from librarian_client.models import TransferStatus
from librarian_server.orm import OutgoingTransfer, Peer, utcnow
from librarian_server.services.core.credentials import CredentialBox
from librarian_server.services.replication import peers
from tests.integration.conftest import PASSWORD, Site
from tests.integration.helpers import upload


@pytest.fixture
def source(make_site: Callable[..., Site]) -> Site:
    return make_site(
        site_name="mountain",
        replication={
            "max_attempts": 2,
            "peer_backoff_seconds": 10,
            "peer_backoff_max_seconds": 40,
            "peer_backoff_jitter": 0,
        },
    )


def _add_peer(site: Site, url: str = "http://127.0.0.1:9", name: str = "ucsd") -> None:
    with site.factory.begin() as session:
        peers.add_peer(
            session,
            name=name,
            url=url,
            username="mountain",
            password="peer-secret",
            box=CredentialBox.for_settings(site.settings),
            settings=site.settings,
        )


def _send(site: Site) -> dict[str, Any]:
    r = site.http.post("/api/v2/tasks/send_clone/run", auth=site.auth("admin"))
    assert r.status_code == 200, r.text
    assert r.json()["ok"], r.json()
    summary: dict[str, Any] = r.json()["summary"]
    return summary


def _peer(site: Site, name: str = "ucsd") -> dict[str, Any]:
    listing = site.http.get("/api/v2/peers", auth=site.auth("admin")).json()
    found: dict[str, Any] = next(p for p in listing if p["name"] == name)
    return found


def _transfers(site: Site) -> list[OutgoingTransfer]:
    with site.session() as session:
        return list(session.scalars(select(OutgoingTransfer).order_by(OutgoingTransfer.id)))


def _time_passes(site: Site) -> None:
    """As if the peer's backoff had run out: its next attempt, and its files', are now."""
    past = utcnow() - timedelta(seconds=1)
    with site.factory.begin() as session:
        session.execute(update(Peer).values(next_attempt_after=past))
        session.execute(update(OutgoingTransfer).values(next_attempt_at=past))


def test_an_unreachable_peer_backs_off_and_its_files_keep_their_attempts(source: Site) -> None:
    for i in range(3):
        upload(source.http, source.auth(), f"o/{i}", b"x" * (i + 1))
    _add_peer(source)
    waits = []
    for _ in range(5):  # more rounds than max_attempts: not one file may fail
        summary = _send(source)
        assert summary["waiting"] == 3 and summary["failed"] == 0
        peer = _peer(source)
        assert peer["health"] == "backing-off" and "unreachable" in peer["last_error"]
        with source.session() as session:
            row = session.scalar(select(Peer))
            assert row is not None and row.next_attempt_after is not None
            waits.append(round((row.next_attempt_after - utcnow()).total_seconds()))
            after = row.next_attempt_after
        for t in _transfers(source):
            assert (t.status, t.attempts, t.send_queue_id) == (TransferStatus.INITIATED, 0, None)
            assert t.next_attempt_at == after  # the files wait exactly as long as the peer
        # Until its next attempt nothing is planned or sent to it.
        assert _send(source) | {"queued": 0} == {
            "queued": 0,
            "batches": 0,
            "sent": 0,
            "failed": 0,
            "postponed": 0,
            "waiting": 0,
        }
        _time_passes(source)
    assert waits == [10, 20, 40, 40, 40]  # doubling, capped
    assert _peer(source)["consecutive_failures"] == 5
    # Changing the peer (its operator fixed the URL, say) lets it be tried at once.
    with source.factory.begin() as session:
        peers.update_peer(
            session, "ucsd", box=CredentialBox.for_settings(source.settings), url="http://x:1"
        )
    assert _peer(source)["health"] == "failing"  # not backing off, still failing in a row


class _Answer(BaseHTTPRequestHandler):
    status = 503

    def _reply(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        body = json.dumps({"reason": f"answered {self.status}", "suggested_remedy": ""}).encode()
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = _reply

    def log_message(self, format: str, *args: Any) -> None:  # the base class's names
        pass


@pytest.fixture
def answering() -> Iterator[Callable[[int], str]]:
    servers: list[ThreadingHTTPServer] = []

    def start(status: int) -> str:
        handler = type("Handler", (_Answer,), {"status": status})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(("status", "outage"), [(503, True), (500, True), (400, False)])
def test_a_5xx_is_an_outage_but_a_refused_batch_spends_attempts(
    source: Site, answering: Callable[[int], str], status: int, outage: bool
) -> None:
    upload(source.http, source.auth(), "s/x", b"abc")
    _add_peer(source, answering(status))
    summary = _send(source)
    (transfer,) = _transfers(source)
    peer = _peer(source)
    assert f"answered {status}" in (transfer.error or "")
    if outage:
        assert summary["waiting"] == 1 and transfer.attempts == 0
        assert peer["health"] == "backing-off" and peer["consecutive_failures"] == 1
    else:  # the peer is up and refused this batch: perhaps its files' doing
        assert summary["failed"] == 1 and transfer.attempts == 1
        assert peer["health"] == "ok" and peer["consecutive_failures"] == 0
        assert f"answered {status}" in peer["last_error"]


def _fail(site: Site, peer: str, names: list[str]) -> None:
    with site.factory.begin() as session:
        session.execute(
            update(OutgoingTransfer)
            .where(OutgoingTransfer.destination == peer, OutgoingTransfer.file_name.in_(names))
            .values(status=TransferStatus.FAILED, attempts=2, error="gave up")
        )


def test_bulk_retry_requeues_failed_transfers_of_one_peer(source: Site) -> None:
    names = [f"b/{i}" for i in range(4)]
    for name in names:
        upload(source.http, source.auth(), name, name.encode())
    _add_peer(source)
    _add_peer(source, name="lbl")
    _send(source)  # both unreachable: every transfer waits in the pool
    _fail(source, "ucsd", names)
    _fail(source, "lbl", names[:2])
    admin = source.auth("admin")
    r = source.http.post("/api/v2/transfers/retry", json={"peer": "ucsd", "limit": 3}, auth=admin)
    assert r.status_code == 200 and r.json() == {"requeued": 3, "skipped": 0}
    r = source.http.post("/api/v2/transfers/retry", json={"peer": "ucsd"}, auth=admin)
    assert r.json() == {"requeued": 1, "skipped": 0}
    rows = {(t.destination, t.file_name): t for t in _transfers(source)}
    for name in names:
        row = rows[("ucsd", name)]
        assert (row.status, row.attempts, row.error) == (TransferStatus.INITIATED, 0, None)
    assert {rows[("lbl", n)].status for n in names[:2]} == {TransferStatus.FAILED}
    # Only an admin; only retryable states; a bad body is a 400 with a reason.
    assert source.http.post("/api/v2/transfers/retry", json={}, auth=source.auth()).status_code == (
        403
    )
    r = source.http.post("/api/v2/transfers/retry", json={"status": "COMPLETED"}, auth=admin)
    assert r.status_code == 400 and "cannot be retried" in r.json()["reason"]
    assert r.json()["suggested_remedy"]
    r = source.http.post("/api/v2/transfers/retry", json={"limit": 0}, auth=admin)
    assert r.status_code == 400 and r.json()["reason"]


def test_cli_retries_many_and_lists_peer_health(
    source: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    names = [f"c/{i}" for i in range(3)]
    for name in names:
        upload(source.http, source.auth(), name, name.encode())
    _add_peer(source)
    _send(source)
    _fail(source, "ucsd", names)
    save_connection(
        "test",
        Connection.model_validate(
            {"url": "http://testserver", "username": "admin", "password": PASSWORD}
        ),
    )
    transport = source.http._transport

    def cli(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(list(argv), transport=transport)
        out, err = capsys.readouterr()
        return code, out, err

    code, out, _ = cli("transfers", "retry", "--status", "failed", "--peer", "ucsd")
    assert code == 0 and out.strip() == "requeued 3 FAILED transfer(s) to ucsd"
    assert {t.status for t in _transfers(source)} == {TransferStatus.INITIATED}
    code, out, _ = cli("--json", "transfers", "retry", "--peer", "ucsd")
    assert code == 0 and json.loads(out) == {"requeued": 0, "skipped": 0}
    code, _, err = cli("transfers", "retry")
    assert code != 0 and len(err.strip().splitlines()) == 1 and "--status" in err
    code, out, _ = cli("peers")
    assert code == 0 and "backing-off (1 failure(s), next " in out
    code, out, _ = cli("--json", "peers")
    (peer,) = json.loads(out)
    assert peer["health"] == "backing-off" and peer["consecutive_failures"] == 1
