"""SIGKILL between stage and commit: after a restart nothing of the upload is left over."""

from __future__ import annotations

import base64
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.e2e.conftest import LiveServer, md5

pytestmark = pytest.mark.e2e

MiB = 1 << 20


@pytest.fixture(scope="module")
def server(start_server: Callable[..., LiveServer], database_url: str | None) -> LiveServer:
    return start_server(database_url, users={"writer": "read-append"})


def start_partial_put(server: LiveServer, put_path: str, data: bytes) -> socket.socket:
    """Announce all of ``data`` but send only its first half; the caller keeps the socket."""
    credentials = base64.b64encode(f"writer:{server.passwords['writer']}".encode()).decode()
    head = (
        f"PUT {put_path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        f"Authorization: Basic {credentials}\r\nContent-Type: application/octet-stream\r\n"
        f"Content-Length: {len(data)}\r\n\r\n"
    )
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    sock.sendall(head.encode() + data[: len(data) // 2])
    return sock


def test_sigkill_between_stage_and_commit_leaves_nothing(
    server: LiveServer, tmp_path: Path
) -> None:
    payloads = {
        "crash/put-complete.dat": os.urandom(3 * MiB + 5),  # PUT in full, never committed
        "crash/put-half.dat": os.urandom(2 * MiB + 7),  # PUT cut off halfway by the kill
        "crash/local-copy.dat": os.urandom(MiB + 3),  # copied into staging, never committed
    }
    with server.http() as http:
        response = http.post(
            "/api/v2/upload/stage",
            json={
                "files": [
                    {"name": name, "size": len(data), "checksum": md5(data)}
                    for name, data in payloads.items()
                ]
            },
        )
        assert response.status_code == 200, response.text
        transfers = {t["name"]: t for t in response.json()["transfers"]}
        assert {t["outcome"] for t in transfers.values()} == {"staged"}

        complete = transfers["crash/put-complete.dat"]
        put = http.put(complete["put_path"], content=payloads["crash/put-complete.dat"])
        assert put.status_code == 200, put.text
        assert put.json()["checksum"] == md5(payloads["crash/put-complete.dat"])

        local = transfers["crash/local-copy.dat"]
        local_path = Path(local["local_path"])
        assert local_path.is_relative_to(server.store_dir / "staging")
        local_path.write_bytes(payloads["crash/local-copy.dat"])

    half = payloads["crash/put-half.dat"]
    half_put = start_partial_put(server, transfers["crash/put-half.dat"]["put_path"], half)
    try:
        # Where the half-sent bytes land is the server's business: wait for any of them.
        staging = server.store_dir / "staging"
        deadline = time.monotonic() + 10
        while sum(p.stat().st_size for p in staging.rglob("*") if p.is_file()) < (
            len(payloads["crash/put-complete.dat"]) + len(payloads["crash/local-copy.dat"]) + 1
        ):
            assert time.monotonic() < deadline, "the half PUT never reached the staging area"
            time.sleep(0.05)
        assert len(server.staging_entries()) == 3  # the mess the restart has to clean
        server.kill()
    finally:
        half_put.close()

    down = server.cli("ls", "crash/").error()
    assert "cannot reach" in down.lower()
    server.restart()

    for name in payloads:
        line = server.cli("info", name).error()
        assert name in line
        assert "no file" in line.lower()
    assert server.cli("ls", "crash/", "--json").json() == []
    assert server.staging_entries() == []
    assert server.stored_files() == []

    # The transfer whose bytes had all arrived cannot be committed after the restart.
    with server.http() as http:
        late = http.post(
            "/api/v2/upload/commit",
            json={"files": [{"transfer_id": complete["transfer_id"]}]},
        )
        assert late.status_code == 400, late.text
    assert server.cli("ls", "crash/", "--json").json() == []

    # The same files upload cleanly now (by local copy: the CLI shares the filesystem).
    for name, data in payloads.items():
        src = tmp_path / name.replace("/", "_")
        src.write_bytes(data)
        assert server.cli("upload", str(src), name).returncode == 0
        out = tmp_path / f"out-{name.replace('/', '_')}"
        assert server.cli("download", name, str(out)).returncode == 0
        assert out.read_bytes() == data
        info = server.cli("info", name, "--json").json()
        assert (info["size"], info["checksum"]) == (len(data), md5(data))
        assert [i["available"] for i in info["instances"]] == [True]
    assert server.staging_entries() == []
    assert len(server.stored_files()) == 3
