"""A live server on a Swift bucket, SIGKILLed during a commit's multipart upload and
during a commit of many files: no catalogued file without a whole object, and after the
restart's clean-up no object without a catalogued file, nor an unfinished upload.
Then a bucket that went away: the server says so in one line at start."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from librarian_server.stores.s3 import FILES
from tests.e2e.conftest import LIBRARIAN_SERVER, LiveServer, md5, run
from tests.swift import SwiftNode

pytestmark = pytest.mark.e2e

MIB = 1 << 20


@pytest.fixture(scope="module")
def bucket(swift_node: SwiftNode, database_url: str | None) -> str:
    """One per module run (per database): the last test deletes it."""
    return swift_node.make_bucket(f"crash-{os.getpid()}-{time.monotonic_ns() % 10**9}")


@pytest.fixture(scope="module")
def server(
    start_server: Callable[..., LiveServer],
    database_url: str | None,
    swift_node: SwiftNode,
    bucket: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> LiveServer:
    server = start_server(database_url, users={"writer": "read-append"})
    credentials = swift_node.write_credentials_file(
        tmp_path_factory.mktemp("keys") / "s3.credentials"
    )
    prefix = f"{swift_node.endpoint}/{bucket}"
    server.admin(
        "add-store", "swift", "--s3", prefix, "--credentials-file", str(credentials),
        "--part-size", "5M", "--concurrency", "2",
    )  # fmt: skip
    server.admin("store", "disable", "local")  # every new upload goes to the bucket
    return server


def objects(node: SwiftNode, bucket: str) -> list[str]:
    client = node.client()
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=FILES)
    return [o["Key"] for page in pages for o in page.get("Contents", [])]


def unfinished(node: SwiftNode, bucket: str) -> int:
    return len(node.client().list_multipart_uploads(Bucket=bucket).get("Uploads", []))


def stage_and_put(http: httpx.Client, files: dict[str, bytes]) -> list[int]:
    r = http.post(
        "/api/v2/upload/stage",
        json={"files": [{"name": n, "size": len(d), "checksum": md5(d)} for n, d in files.items()]},
    )
    assert r.status_code == 200, r.text
    transfers = r.json()["transfers"]
    for t in transfers:
        assert http.put(t["put_path"], content=files[t["name"]]).status_code == 200
    return [t["transfer_id"] for t in transfers]


def commit_in_background(server: LiveServer, ids: list[int], files: dict[str, bytes]) -> None:
    def commit() -> None:
        with server.http() as http:
            body: dict[str, Any] = {
                "files": [
                    {"transfer_id": i, "checksum": md5(d)}
                    for i, d in zip(ids, files.values(), strict=True)
                ]
            }
            try:
                http.post("/api/v2/upload/commit", json=body, timeout=120)
            except httpx.HTTPError:
                pass  # the server is killed under it

    threading.Thread(target=commit, daemon=True).start()


def wait_for(what: Callable[[], bool], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not what():
        assert time.monotonic() < deadline, "never happened"
        time.sleep(0.02)


def assert_nothing_left(server: LiveServer, node: SwiftNode, bucket: str, names: list[str]) -> None:
    with server.http() as http:
        for name in names:
            assert http.get(f"/api/v2/files/{name}").status_code == 404, name
    assert objects(node, bucket) == [], "no object without a catalogued file"
    assert unfinished(node, bucket) == 0, "no unfinished multipart upload"


def test_sigkill_during_a_multipart_upload_leaves_nothing(
    server: LiveServer, swift_node: SwiftNode, bucket: str
) -> None:
    files = {"crash/big.dat": os.urandom(120 * MIB + 3)}
    with server.http() as http:
        ids = stage_and_put(http, files)
    commit_in_background(server, ids, files)
    wait_for(lambda: unfinished(swift_node, bucket) > 0)
    server.kill()
    assert unfinished(swift_node, bucket) == 1, "the crash left its parts behind"
    server.start()  # alone at start-up: every open upload is abandoned
    assert_nothing_left(server, swift_node, bucket, list(files))
    with server.http() as http:  # and the same upload afterwards simply works
        ids = stage_and_put(http, files)
        r = http.post(
            "/api/v2/upload/commit",
            json={"files": [{"transfer_id": ids[0], "checksum": md5(files["crash/big.dat"])}]},
            timeout=120,
        )
        assert r.status_code == 200, r.text
        got = http.get("/api/v2/download/crash/big.dat")
        assert got.status_code == 200 and md5(got.content) == md5(files["crash/big.dat"])
    assert len(objects(swift_node, bucket)) == 1


def test_sigkill_during_a_commit_of_many_files_leaves_no_stray_object(
    server: LiveServer, swift_node: SwiftNode, bucket: str
) -> None:
    before = set(objects(swift_node, bucket))
    files = {f"many/{n:04d}.txt": os.urandom(2000 + n) for n in range(600)}
    with server.http() as http:
        ids = stage_and_put(http, files)
    commit_in_background(server, ids, files)
    wait_for(lambda: len(set(objects(swift_node, bucket)) - before) >= 5)
    server.kill()
    stray = set(objects(swift_node, bucket)) - before
    assert 0 < len(stray) < len(files), "killed part-way through the sending"
    server.start()
    with server.http() as http:
        for name in list(files)[:20]:
            assert http.get(f"/api/v2/files/{name}").status_code == 404, name
    assert set(objects(swift_node, bucket)) == before, "clean-up removed what was sent"


def test_a_bucket_gone_is_one_line_at_start(
    server: LiveServer, swift_node: SwiftNode, bucket: str, tmp_path: Path
) -> None:
    server.stop()
    swift_node.empty_bucket(bucket)
    done = run(
        [*LIBRARIAN_SERVER, "run", "--data-dir", str(server.data_dir), "--port", "9"],
        server.env,
        timeout=60,
    )
    assert done.returncode == 1, done
    errors = [line for line in done.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and errors[0].startswith("librarian-server: error: "), done.stderr
    assert f"The bucket {bucket!r} does not exist" in errors[0]
    assert "Traceback" not in done.stderr and "testing" not in done.stderr
