"""The client resumes a large upload that an earlier attempt left on the server.

The earlier attempt is a real interrupted PUT (the receive service fed a body that
ends in a disconnect) that the client's state file remembers, as a killed
``librarian upload`` leaves it; the e2e suite kills a real CLI process instead.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from librarian_client._resume import RESUME_MIN, Pending, ResumeState
from librarian_client.exceptions import VerificationFailed
from librarian_client.models import TransferStatus
from librarian_server.orm import IncomingTransfer
from tests.integration.conftest import Site
from tests.integration.helpers import md5
from tests.integration.test_upload_resume import interrupted_put, staged

MiB = 1 << 20


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "librarian" / "uploads.json"


def left_behind(site: Site, local: Path, dest: str, held: int) -> int:
    """An earlier attempt: staged, ``held`` bytes sent, remembered, then gone."""
    data = local.read_bytes()
    t = staged(site, dest, len(data))
    interrupted_put(site, t["transfer_id"], data[:held])
    info = local.stat()
    pending = Pending(t["transfer_id"], str(local), info.st_size, info.st_mtime_ns)
    ResumeState("http://testserver").remember(dest, pending)
    transfer_id: int = t["transfer_id"]
    return transfer_id


def resumed_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "resumed at byte" in r.getMessage()]


def test_upload_sends_only_what_the_server_lacks(
    site: Site, tmp_path: Path, cache: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="librarian_server.services.ingest.receive")
    data = os.urandom(RESUME_MIN + 3 * MiB)
    local = tmp_path / "big.bin"
    local.write_bytes(data)
    transfer_id = left_behind(site, local, "big/again.bin", held=9 * MiB)

    with site.client() as client:
        result = client.upload(local, "big/again.bin")
    assert result.transfer_id == transfer_id and result.checksum == md5(data)
    remainder = len(data) - 9 * MiB
    assert resumed_lines(caplog) == [
        f"transfer {transfer_id} resumed at byte {9 * MiB}: received {remainder} bytes"
    ]
    assert site.http.get("/api/v2/download/big/again.bin", auth=site.auth()).content == data
    assert "big/again.bin" not in cache.read_text()  # forgotten once committed


def test_a_changed_local_file_is_sent_whole(
    site: Site, tmp_path: Path, cache: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="librarian_server.services.ingest.receive")
    local = tmp_path / "big.bin"
    local.write_bytes(os.urandom(RESUME_MIN))
    old = left_behind(site, local, "big/changed.bin", held=4 * MiB)
    data = os.urandom(RESUME_MIN)
    local.write_bytes(data)  # a new mtime: not the file the transfer was for

    with site.client() as client:
        result = client.upload(local, "big/changed.bin")
    assert result.transfer_id != old and result.checksum == md5(data)
    assert resumed_lines(caplog) == []


def test_a_resume_over_different_held_bytes_fails_cleanly(
    site: Site, tmp_path: Path, cache: Path
) -> None:
    local = tmp_path / "big.bin"
    local.write_bytes(os.urandom(RESUME_MIN))
    before = local.stat()
    transfer_id = left_behind(site, local, "big/swapped.bin", held=4 * MiB)
    data = os.urandom(RESUME_MIN)
    local.write_bytes(data)  # same size, and the mtime put back: only the bytes differ
    os.utime(local, ns=(before.st_atime_ns, before.st_mtime_ns))

    with site.client() as client, pytest.raises(VerificationFailed) as failed:
        client.upload(local, "big/swapped.bin")
    assert "received" in str(failed.value)
    with site.session() as s:
        transfer = s.get(IncomingTransfer, transfer_id)
        assert transfer is not None and transfer.status == TransferStatus.CANCELLED
        assert not Path(transfer.staging_path).exists()
    # Nothing is remembered now: the next attempt starts from zero and succeeds.
    with site.client() as client:
        again = client.upload(local, "big/swapped.bin")
    assert again.transfer_id != transfer_id and again.checksum == md5(data)


def test_a_transfer_the_server_closed_is_forgotten(site: Site, tmp_path: Path, cache: Path) -> None:
    local = tmp_path / "big.bin"
    local.write_bytes(os.urandom(RESUME_MIN))
    transfer_id = left_behind(site, local, "big/closed.bin", held=MiB)
    r = site.http.post(
        "/api/v2/upload/cancel", json={"transfer_ids": [transfer_id]}, auth=site.auth()
    )
    assert r.json()["cancelled"] == [transfer_id]
    with site.client() as client:
        result = client.upload(local, "big/closed.bin")
    assert result.transfer_id != transfer_id
    assert "big/closed.bin" not in cache.read_text()


def test_an_unwritable_cache_only_costs_the_resume(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    local = tmp_path / "big.bin"
    data = os.urandom(RESUME_MIN)
    local.write_bytes(data)
    with site.client() as client:
        assert client.upload(local, "big/nocache.bin").checksum == md5(data)
