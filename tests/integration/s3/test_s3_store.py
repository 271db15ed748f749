"""The S3 store backend against a real OpenStack Swift (its s3api), as the contract says."""

from __future__ import annotations

import hashlib
import os
from datetime import timedelta
from pathlib import Path

import pytest

from librarian_server.errors import ConfigurationError, FileAlreadyExists
from librarian_server.orm import utcnow
from librarian_server.stores import S3Store, open_size
from librarian_server.stores.registry import forget_clients, s3_backend
from librarian_server.stores.s3 import FILES, S3Options
from tests.integration.s3.conftest import s3_options
from tests.swift import SwiftNode

MIB = 1024 * 1024


def options(node: SwiftNode, bucket: str, tmp_path: Path, **extra: object) -> S3Options:
    return s3_options(node, bucket, tmp_path, **extra)


@pytest.fixture
def store(swift_node: SwiftNode, swift_bucket: str, tmp_path: Path) -> S3Store:
    backend = s3_backend("u-1", options(swift_node, swift_bucket, tmp_path))
    backend.initialise()
    return backend


def staged(store: S3Store, data: bytes) -> Path:
    path = store.new_staging_path()
    path.write_bytes(data)
    return path


def read_all(store: S3Store, store_path: str, start: int = 0, end: int | None = None) -> bytes:
    with store.open_read(store_path, start, end) as handle:
        out = handle.read() if end is None else handle.read(end - start + 1)
    return out


def test_small_and_large_commits_read_back_whole_and_in_ranges(store: S3Store) -> None:
    small = os.urandom(1000)
    large = os.urandom(17 * MIB + 123)  # four parts of 5 MiB, the last short
    moves = [(staged(store, small), "aaa/small"), (staged(store, large), "bbb/large")]
    assert store.commit_many(moves) == moves
    assert all(p.exists() for p, _ in moves), "kept until the catalogue has committed"
    store.release_staging(moves)
    assert not any(p.exists() for p, _ in moves)
    assert read_all(store, "aaa/small") == small
    assert hashlib.sha256(read_all(store, "bbb/large")).digest() == hashlib.sha256(large).digest()
    assert read_all(store, "bbb/large", 6 * MIB, 6 * MIB + 99) == large[6 * MIB : 6 * MIB + 100]
    with store.open_read("bbb/large") as handle:
        assert open_size(handle) == len(large)
        handle.seek(len(large) - 10)
        assert handle.read() == large[-10:]
    assert store.size_of("bbb/large") == len(large)
    assert store.size_of("nope") is None and not store.exists("nope")
    with pytest.raises(FileNotFoundError):
        store.open_read("nope")
    listed = [p for p, _ in store.walk()]
    assert listed == ["aaa/small", "bbb/large"]
    assert [p for p, _ in store.walk(after="aaa/small")] == ["bbb/large"]
    assert not store.client.list_multipart_uploads(Bucket=store.bucket).get("Uploads")


def test_commit_never_overwrites_and_keeps_the_staged_bytes(store: S3Store) -> None:
    store.commit(staged(store, b"one"), "f/one")
    second = staged(store, b"two")
    with pytest.raises(FileAlreadyExists):
        store.commit(second, "f/one")
    assert read_all(store, "f/one") == b"one"
    assert second.read_bytes() == b"two"
    big = staged(store, os.urandom(6 * MIB))
    store.commit(big, "f/big")
    again = staged(store, os.urandom(6 * MIB))
    with pytest.raises(FileAlreadyExists):
        store.commit(again, "f/big")
    assert again.exists()


def test_a_failed_batch_removes_only_what_it_stored(store: S3Store) -> None:
    store.commit(staged(store, b"kept"), "z/taken")
    moves = [(staged(store, b"a"), "z/a"), (staged(store, b"b"), "z/taken")]
    with pytest.raises(FileAlreadyExists):
        store.commit_many(moves)
    assert read_all(store, "z/taken") == b"kept", "an object it did not store stays"
    assert not store.exists("z/a"), "what it stored is taken back"
    assert all(p.exists() for p, _ in moves)


def test_uncommit_removes_the_object_and_keeps_or_fetches_back_the_bytes(store: S3Store) -> None:
    data = os.urandom(7 * MIB)
    staging = staged(store, data)
    store.send_ahead([(staging, "u/x")])
    store.commit(staging, "u/x")  # sent ahead: nothing is sent twice
    store.uncommit("u/x", staging)
    assert staging.read_bytes() == data and not store.exists("u/x")
    store.commit(staging, "u/y")
    store.release_staging([(staging, "u/y")])
    store.uncommit("u/y", staging)  # the spool copy went: it is fetched back first
    assert staging.read_bytes() == data and not store.exists("u/y")


def test_quarantine_adopt_and_delete(store: S3Store) -> None:
    store.commit(staged(store, b"suspect"), "q/file")
    where = store.quarantine("q/file", "damage7")
    assert not store.exists("q/file")
    with store.open_quarantined(where) as handle:
        assert handle.read() == b"suspect"
    store.adopt(where, "q/file2")
    assert read_all(store, "q/file2") == b"suspect"
    store.delete("q/file2")
    store.delete("q/file2")  # twice is fine
    assert not store.exists("q/file2")
    assert [p for p, _ in store.walk()] == []


def test_unfinished_multipart_uploads_are_aborted_once_old(store: S3Store) -> None:
    client = store.client
    upload = client.create_multipart_upload(Bucket=store.bucket, Key=FILES + "crash/x")
    client.upload_part(
        Bucket=store.bucket,
        Key=FILES + "crash/x",
        UploadId=upload["UploadId"],
        PartNumber=1,
        Body=b"x" * (5 * MIB),
    )
    assert store.abandoned_uploads(utcnow() - timedelta(hours=1)) == 0, "a young one stays"
    assert store.abandoned_uploads(utcnow() + timedelta(seconds=5)) == 1
    assert not client.list_multipart_uploads(Bucket=store.bucket).get("Uploads")
    assert not store.exists("crash/x")


def test_wrong_credentials_missing_bucket_and_no_endpoint_are_one_clear_error(
    swift_node: SwiftNode, swift_bucket: str, tmp_path: Path
) -> None:
    forget_clients()
    bad = tmp_path / "bad.credentials"
    bad.write_text("[default]\naws_access_key_id = test:tester\naws_secret_access_key = nope\n")
    cases = {
        "refused the credentials": options(
            swift_node, swift_bucket, tmp_path, credentials_file=str(bad)
        ),
        "does not exist": options(swift_node, swift_bucket + "-missing", tmp_path),
        "Cannot reach": options(swift_node, swift_bucket, tmp_path, endpoint="http://127.0.0.1:9"),
    }
    for words, opts in cases.items():
        with pytest.raises(ConfigurationError) as caught:
            s3_backend(f"u-{words}", opts).check()
        assert words in caught.value.reason, caught.value.reason
        assert "nope" not in caught.value.reason + caught.value.suggested_remedy
    no_file = options(swift_node, swift_bucket, tmp_path, credentials_file=str(tmp_path / "x"))
    with pytest.raises(ConfigurationError, match="Cannot read the S3 credentials file"):
        s3_backend("u-nofile", no_file)
