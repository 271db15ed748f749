"""Download: streamed to a temp file, verified, then renamed; nothing left on failure."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from librarian_client import ChecksumMismatch, LibrarianClient, NotFound
from tests.unit.client.conftest import URL
from tests.unit.fake_librarian import FakeLibrarian, md5_of


def test_download_writes_verified_file_and_returns_info(
    client: LibrarianClient, fake: FakeLibrarian, tmp_path: Path
) -> None:
    data = b"\x00\x01payload" * 50_000
    fake.add_file("obs/run 1/d.g3", data, uploader="bob")
    target = tmp_path / "out.g3"
    progress = {"bytes": 0, "files": 0}

    def count(nbytes: int, nfiles: int) -> None:
        progress["bytes"] += nbytes
        progress["files"] += nfiles

    info = client.download("obs/run 1/d.g3", target, progress=count)

    assert target.read_bytes() == data
    assert info.checksum == md5_of(data)
    assert info.uploader == "bob"
    assert progress == {"bytes": len(data), "files": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.g3"]


def test_download_into_a_directory_uses_the_last_name_segment(
    client: LibrarianClient, fake: FakeLibrarian, tmp_path: Path
) -> None:
    fake.add_file("a/b/c.txt", b"abc")

    client.download("a/b/c.txt", tmp_path)

    assert (tmp_path / "c.txt").read_bytes() == b"abc"


def test_corrupt_bytes_raise_and_leave_no_file_behind(
    client: LibrarianClient, fake: FakeLibrarian, tmp_path: Path
) -> None:
    fake.add_file("bad", b"good bytes" * 1000)
    fake.corrupt_downloads.add("bad")
    target = tmp_path / "bad"

    with pytest.raises(ChecksumMismatch) as info:
        client.download("bad", target)

    assert md5_of(b"good bytes" * 1000) in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_existing_target_is_untouched_when_verification_fails(
    client: LibrarianClient, fake: FakeLibrarian, tmp_path: Path
) -> None:
    fake.add_file("bad", b"new contents")
    fake.corrupt_downloads.add("bad")
    target = tmp_path / "keep.txt"
    target.write_bytes(b"previous version")

    with pytest.raises(ChecksumMismatch):
        client.download("bad", target)

    assert target.read_bytes() == b"previous version"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_short_stream_is_a_mismatch(tmp_path: Path) -> None:
    info = {
        "name": "f",
        "size": 10,
        "checksum": md5_of(b"0123456789"),
        "uploader": "a",
        "source": "s",
        "created_time": "2024-06-01T00:00:00Z",
        "instances": [],
    }

    def server(request: httpx.Request) -> httpx.Response:
        if "/files/" in request.url.path:
            return httpx.Response(200, json=info)
        return httpx.Response(200, content=b"01234")

    with LibrarianClient(URL, transport=httpx.MockTransport(server)) as client:
        with pytest.raises(ChecksumMismatch, match="got 5 bytes"):
            client.download("f", tmp_path / "f")
    assert list(tmp_path.iterdir()) == []


def test_announced_checksum_disagreeing_with_catalogue_stops_before_writing(
    tmp_path: Path,
) -> None:
    fake = FakeLibrarian()
    fake.add_file("f", b"data")

    def server(request: httpx.Request) -> httpx.Response:
        response = fake.handle(request)
        if "/download/" in request.url.path:
            response.headers["X-Librarian-Checksum"] = md5_of(b"other")
        return response

    with LibrarianClient(URL, "alice", "secret", transport=httpx.MockTransport(server)) as client:
        with pytest.raises(ChecksumMismatch, match="catalogue"):
            client.download("f", tmp_path / "f")
    assert list(tmp_path.iterdir()) == []


def test_missing_target_directory_fails_before_downloading(
    client: LibrarianClient, fake: FakeLibrarian, tmp_path: Path
) -> None:
    fake.add_file("f", b"data")

    with pytest.raises(FileNotFoundError) as info:
        client.download("f", tmp_path / "no-dir" / "f")

    assert info.value.filename == str(tmp_path / "no-dir")
    assert fake.count("GET", "/api/v2/download/") == 0


def test_missing_file_is_not_found_and_writes_nothing(
    client: LibrarianClient, tmp_path: Path
) -> None:
    with pytest.raises(NotFound, match="nope"):
        client.download("nope", tmp_path / "x")
    assert list(tmp_path.iterdir()) == []
