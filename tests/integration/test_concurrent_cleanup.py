"""Clean-up in another process never takes bytes a commit or a PUT is working on.

The clean-up here runs on its own engine (as a second server process would) and
as the worst case: everything open counts as abandoned, as if it believed itself
alone. It is started at the most dangerous moments of a commit (after the bytes
moved into the store, before the database commit) and of a PUT (bytes half
received); the transfer's own row, taken by compare-and-set, must decide.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session, sessionmaker

from librarian_client.models import PermissionLevel, TransferStatus
from librarian_server.db import make_engine, make_session_factory
from librarian_server.orm import File, IncomingTransfer, Instance, utcnow
from librarian_server.services.accounts.auth import AuthenticatedUser
from librarian_server.services.ingest import receive
from librarian_server.services.ingest.transfer_cas import TransferClosed
from librarian_server.services.site.maintenance import clean_staging
from tests.integration.conftest import Site
from tests.integration.helpers import md5, stage


@pytest.fixture
def other_process(site: Site) -> Iterator[sessionmaker[Session]]:
    """A session factory on its own engine: the second process's view of the catalogue."""
    engine = make_engine(site.settings)
    yield make_session_factory(engine)
    engine.dispose()


def worst_case_cleanup(factory: sessionmaker[Session]) -> tuple[int, int]:
    return clean_staging(factory, idle_before=utcnow() + timedelta(minutes=5))


def stage_locally(
    site: Site, count: int, prefix: str
) -> tuple[list[dict[str, Any]], dict[str, bytes]]:
    """Stage ``count`` small files and write their bytes straight into staging."""
    data = {f"{prefix}/{i:05d}": f"{prefix} file {i}".encode() * (1 + i % 7) for i in range(count)}
    r = stage(
        site.http,
        site.auth(),
        [{"name": n, "size": len(b), "checksum": md5(b)} for n, b in data.items()],
    )
    assert r.status_code == 200, r.text
    transfers = r.json()["transfers"]
    for t in transfers:
        Path(t["local_path"]).write_bytes(data[t["name"]])
    return transfers, data


def app_engine(site: Site) -> Engine:
    engine: Engine = site.http.app.state.engine  # type: ignore[attr-defined]
    return engine


def commit(site: Site, transfers: list[dict[str, Any]]) -> Any:
    return site.http.post(
        "/api/v2/upload/commit",
        json={"files": [{"transfer_id": t["transfer_id"]} for t in transfers]},
        auth=site.auth(),
    )


def test_cleanup_during_a_2000_file_commit_loses_nothing(
    site: Site, other_process: sessionmaker[Session]
) -> None:
    transfers, data = stage_locally(site, 2000, "big")
    engine = app_engine(site)
    moved = threading.Event()
    outcome: list[tuple[int, int]] = []
    cleaner = threading.Thread(target=lambda: outcome.append(worst_case_cleanup(other_process)))

    def after_instances(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.startswith("INSERT INTO instances"):
            moved.set()

    def before_commit(conn: Any) -> None:
        # The bytes are in the store, the rows not yet committed: the old clean-up,
        # looking the File up by name, deleted the bytes here.
        if moved.is_set() and not cleaner.is_alive() and not outcome:
            cleaner.start()
            cleaner.join(3)  # PostgreSQL: done at once (rows locked); SQLite: waits for us

    event.listen(engine, "before_cursor_execute", after_instances)
    event.listen(engine, "commit", before_commit)
    try:
        r = commit(site, transfers)
    finally:
        event.remove(engine, "before_cursor_execute", after_instances)
        event.remove(engine, "commit", before_commit)
    cleaner.join(60)
    assert r.status_code == 200, r.text
    assert outcome == [(0, 0)]  # clean-up took nothing
    with site.session() as s:
        instances = {i.file_name: i.path for i in s.scalars(select(Instance))}
        statuses = set(s.scalars(select(IncomingTransfer.status)))
    assert len(instances) == 2000 and statuses == {TransferStatus.COMPLETED}
    files = site.settings.store_dir / "files"
    for name, path in instances.items():
        assert md5((files / path).read_bytes()) == md5(data[name])
    for name in list(data)[::400]:
        assert site.http.get(f"/api/v2/download/{name}", auth=site.auth()).content == data[name]


def test_cleanup_that_wins_makes_the_commit_answer_409(
    site: Site, other_process: sessionmaker[Session]
) -> None:
    transfers, _ = stage_locally(site, 3, "lost-race")
    engine = app_engine(site)
    ran: list[tuple[int, int]] = []

    def before_claim(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        # The commit verified the bytes and is about to claim its rows.
        if not ran and "ORDER BY incoming_transfers.id" in statement:
            worker = threading.Thread(target=lambda: ran.append(worst_case_cleanup(other_process)))
            worker.start()
            worker.join(60)

    event.listen(engine, "before_cursor_execute", before_claim)
    try:
        r = commit(site, transfers)
    finally:
        event.remove(engine, "before_cursor_execute", before_claim)
    assert ran == [(3, 0)]
    assert r.status_code == 409, r.text
    body = r.json()
    assert "closed meanwhile" in body["reason"] and "Stage" in body["suggested_remedy"]
    with site.session() as s:
        assert s.scalar(select(func.count()).select_from(File)) == 0
    assert list((site.settings.store_dir / "staging").iterdir()) == []
    assert [p for p in (site.settings.store_dir / "files").rglob("*") if p.is_file()] == []


def test_put_whose_transfer_closes_mid_stream_gets_409_and_keeps_no_bytes(
    site: Site, other_process: sessionmaker[Session]
) -> None:
    body = b"0123456789" * 100_000
    r = stage(
        site.http, site.auth(), [{"name": "closing", "size": len(body), "checksum": md5(body)}]
    )
    transfer = r.json()["transfers"][0]
    user = AuthenticatedUser(id=0, name="writer", permission=PermissionLevel.READAPPEND)
    taken: list[tuple[int, int]] = []

    async def chunks() -> AsyncIterator[bytes]:
        yield body[: len(body) // 2]
        # Half the bytes are in staging: another process's clean-up closes the transfer.
        taken.append(await anyio.to_thread.run_sync(worst_case_cleanup, other_process))
        yield body[len(body) // 2 :]

    async def put() -> None:
        await receive.receive(site.factory, transfer["transfer_id"], chunks(), user=user)

    with pytest.raises(TransferClosed) as raised:
        anyio.run(put)
    assert raised.value.status_code == 409
    assert taken == [(1, 0)]
    assert not Path(transfer["local_path"]).exists()
    assert list((site.settings.store_dir / "staging").iterdir()) == []
    with site.session() as s:
        row = s.get(IncomingTransfer, transfer["transfer_id"])
        assert row is not None and row.status == TransferStatus.FAILED
