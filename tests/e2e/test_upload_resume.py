"""A killed ``librarian upload`` of a large file resumes where the server's copy stops.

A live server per backend; the first attempt goes through a throttling proxy so that
it is surely mid-file when the CLI process is SIGKILLed (no clean-up of any kind
runs); the re-run goes the same way at full speed. The server's log counts the bytes the
resuming request carried.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.e2e.conftest import LIBRARIAN, LiveServer, md5, run
from tests.e2e.proxy import proxy_to

pytestmark = pytest.mark.e2e

MiB = 1 << 20


@pytest.fixture(scope="module")
def server(start_server: Callable[..., LiveServer], database_url: str | None) -> LiveServer:
    return start_server(database_url, env={"LIBRARIAN_SERVER_OFFER_LOCAL_PATHS": "false"})


def staged_bytes(server: LiveServer) -> int:
    staging = server.store_dir / "staging"
    return sum(p.stat().st_size for p in staging.iterdir() if p.is_file())


def test_a_killed_upload_resumes_from_the_bytes_held(server: LiveServer, tmp_path: Path) -> None:
    data = os.urandom(40 * MiB + 5)
    local = tmp_path / "big.bin"
    local.write_bytes(data)
    with proxy_to(server.port, bytes_per_second=12 * MiB) as proxy:
        command = [
            *LIBRARIAN,
            *("--url", proxy.url, "--username", "writer"),
            *("--password-file", str(server.password_file("writer")), "--no-progress"),
            *("upload", str(local), "big/resumed.bin"),
        ]
        with subprocess.Popen(
            command, env=server.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        ) as attempt:
            deadline = time.monotonic() + 60
            while staged_bytes(server) < 8 * MiB:
                assert attempt.poll() is None, "the first attempt ended by itself"
                assert time.monotonic() < deadline, "the upload never got going"
                time.sleep(0.05)
            attempt.send_signal(signal.SIGKILL)
        assert attempt.returncode == -signal.SIGKILL
        state = server.home / ".cache" / "librarian" / "uploads.json"
        assert "big/resumed.bin" in state.read_text()

        proxy.bytes_per_second = None  # the same URL, now at full speed
        result = run([*command, "--json"], server.env)
    (uploaded,) = result.json()
    assert uploaded["checksum"] == md5(data) and uploaded["size"] == len(data)
    found = re.findall(
        rf"transfer {uploaded['transfer_id']} resumed at byte (\d+): received (\d+) bytes",
        server.log_text(),
    )
    assert len(found) == 1, server.log_text()[-2000:]
    assert "unhandled error" not in server.log_text()  # a killed client is not a server fault
    offset, received = map(int, found[0])
    assert offset >= 8 * MiB and offset + received == len(data)

    out = tmp_path / "back.bin"
    assert server.cli("download", "big/resumed.bin", str(out)).returncode == 0
    assert out.read_bytes() == data
    assert server.staging_entries() == []
    assert "big/resumed.bin" not in state.read_text()
