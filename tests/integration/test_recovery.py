"""Start-up clean-up after a crash: nothing half-written survives a restart."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from librarian_client.models import TransferStatus
from librarian_server.orm import File, IncomingTransfer, Store
from librarian_server.services.site.maintenance import startup_cleanup
from librarian_server.stores import backend_for
from tests.integration.conftest import Site
from tests.integration.helpers import posix_backend, stage, upload


def test_restart_fails_open_uploads_and_removes_their_bytes(site: Site) -> None:
    auth = site.auth()
    partial = stage(site.http, auth, [{"name": "crash/a", "size": 10}]).json()["transfers"][0]
    Path(partial["local_path"]).write_bytes(b"12345")  # half-written when the server died
    put = stage(site.http, auth, [{"name": "crash/b", "size": 3}]).json()["transfers"][0]
    site.http.put(put["put_path"], content=b"abc", auth=auth)  # staged, never committed

    # bytes already moved into the store when the process died, File row never written
    mid = stage(site.http, auth, [{"name": "crash/c", "size": 2}]).json()["transfers"][0]
    site.http.put(mid["put_path"], content=b"xy", auth=auth)
    with site.session() as s:
        transfer = s.get(IncomingTransfer, mid["transfer_id"])
        assert transfer is not None
        store = s.get(Store, transfer.store_id)
        assert store is not None
        backend_for(store).commit(Path(transfer.staging_path), transfer.store_path)
        stray = posix_backend(store).local_path(transfer.store_path)
    assert stray.exists()

    orphan = site.settings.store_dir / "staging" / "999-deadbeef"
    orphan.mkdir()
    (orphan / "data").write_bytes(b"junk")
    upload(site.http, auth, "kept", b"committed before the crash")

    failed, removed = startup_cleanup(site.factory, site.settings, process_id=own_process(site))
    assert failed == 3 and removed == 1
    assert not stray.exists()
    assert list((site.settings.store_dir / "staging").iterdir()) == []
    with site.session() as s:
        assert s.scalar(select(func.count()).select_from(File)) == 1
        statuses = {t.name: t.status for t in s.scalars(select(IncomingTransfer))}
    assert statuses["kept"] == TransferStatus.COMPLETED
    assert {statuses[n] for n in ("crash/a", "crash/b", "crash/c")} == {TransferStatus.FAILED}
    # and every one of them can simply be uploaded again
    for name in ("crash/a", "crash/b", "crash/c"):
        upload(site.http, auth, name, b"retried")


def own_process(site: Site) -> int:
    process_id: int = site.http.app.state.heartbeat.process_id  # type: ignore[attr-defined]
    return process_id


def test_another_live_process_spares_recent_uploads(site: Site) -> None:
    """With another server alive, start-up clean-up only takes what timed out."""
    t = stage(site.http, site.auth(), [{"name": "young", "size": 1}]).json()["transfers"][0]
    Path(t["local_path"]).write_bytes(b"x")
    # The in-process app is alive and is "another" from this clean-up's point of view.
    assert startup_cleanup(site.factory, site.settings) == (0, 0)
    assert Path(t["local_path"]).is_file()
    with site.session() as s:
        transfer = s.get(IncomingTransfer, t["transfer_id"])
        assert transfer is not None and transfer.status == TransferStatus.INITIATED
    # Alone, everything abandoned goes.
    assert startup_cleanup(site.factory, site.settings, process_id=own_process(site)) == (1, 0)
    assert not Path(t["local_path"]).exists()
