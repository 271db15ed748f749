"""Upload: batching, the three stage outcomes, local copy, hashing once, progress."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from librarian_client import (
    AlreadyExists,
    BadRequest,
    InsufficientStorage,
    LibrarianClient,
    LocalFileChanged,
    VerificationFailed,
)
from librarian_client.streaming import HashingReader, progress_or_noop
from tests.unit.client.conftest import URL
from tests.unit.fake_librarian import FakeLibrarian, md5_of

MakeFile = Callable[..., Path]


def rebuild(request: httpx.Request, body: bytes) -> httpx.Request:
    headers = {k: v for k, v in request.headers.items() if k.lower() != "content-length"}
    return httpx.Request(request.method, request.url, headers=headers, content=body)


def test_upload_one_file_commits_it_with_the_checksum_of_its_bytes(
    client: LibrarianClient, fake: FakeLibrarian, make_file: MakeFile
) -> None:
    data = b"hello librarian\n" * 1000
    local = make_file("one.dat", data=data)

    result = client.upload(local, "obs/one.dat")

    assert result.name == "obs/one.dat"
    assert result.size == len(data)
    assert result.checksum == md5_of(data)
    assert result.already_present is False
    assert result.transfer_id is not None
    assert fake.files["obs/one.dat"].data == data


def test_upload_many_batches_stage_put_commit(
    client: LibrarianClient, fake: FakeLibrarian, make_file: MakeFile
) -> None:
    pairs = [(make_file(f"f{i:04d}", size=64), f"run/f{i:04d}") for i in range(1200)]

    results = client.upload_many(pairs, batch_size=500)

    assert [r.name for r in results] == [dest for _, dest in pairs]
    assert fake.count("POST", "/api/v2/upload/stage") == 3  # 500 + 500 + 200
    # small files travel in bundles: one request per stage batch, not one per file
    assert fake.count("PUT", "/api/v2/upload/") == 0
    assert fake.count("POST", "/api/v2/upload/bundle") == 3
    assert fake.count("POST", "/api/v2/upload/commit") == 3
    assert len(fake.files) == 1200


def test_stage_items_carry_no_checksum_and_commit_carries_the_computed_one(
    make_file: MakeFile,
) -> None:
    fake = FakeLibrarian()
    bodies: dict[str, list[object]] = {"stage": [], "commit": []}

    def spy(request: httpx.Request) -> httpx.Response:
        for key in bodies:
            if request.url.path.endswith(f"/upload/{key}"):
                bodies[key].extend(json.loads(request.read())["files"])
        return fake.handle(request)

    data = b"x" * 5000
    local = make_file("a", data=data)
    with LibrarianClient(URL, "alice", "secret", transport=httpx.MockTransport(spy)) as client:
        client.upload(local, "a")

    assert bodies["stage"] == [{"name": "a", "size": 5000}]
    assert bodies["commit"] == [{"transfer_id": 1, "checksum": md5_of(data)}]


def test_second_upload_of_same_files_skips_without_sending_bytes(
    client: LibrarianClient, fake: FakeLibrarian, make_file: MakeFile
) -> None:
    pairs = [(make_file(f"f{i}", size=100), f"d/f{i}") for i in range(5)]
    first = client.upload_many(pairs)
    puts_before = fake.count("PUT", "/api/v2/upload/")

    again = client.upload_many(pairs)

    assert all(r.already_present for r in again)
    assert [r.checksum for r in again] == [r.checksum for r in first]
    assert all(r.transfer_id is None for r in again)
    assert fake.count("PUT", "/api/v2/upload/") == puts_before
    assert fake.count("POST", "/api/v2/upload/commit") == 1  # only the first run committed


def test_existing_name_with_different_bytes_raises_409_before_any_bytes_move(
    client: LibrarianClient, fake: FakeLibrarian, make_file: MakeFile
) -> None:
    fake.add_file("d/clash", b"server version")
    new = make_file("new", data=b"fresh")
    clash = make_file("clash", data=b"local version!")

    with pytest.raises(AlreadyExists) as info:
        client.upload_many([(new, "d/new"), (clash, "d/clash")])

    assert info.value.status_code == 409
    assert "d/clash" in str(info.value)
    assert md5_of(b"server version") in str(info.value)
    assert fake.count("PUT", "/api/v2/upload/") == 0
    assert fake.count("POST", "/api/v2/upload/commit") == 0
    assert fake.files["d/clash"].data == b"server version"


def test_existing_name_with_different_size_is_rejected_without_hashing(
    client: LibrarianClient, fake: FakeLibrarian, make_file: MakeFile
) -> None:
    fake.add_file("d/x", b"12345")
    local = make_file("x", data=b"123456")

    with pytest.raises(AlreadyExists, match="5 bytes, local file 6 bytes"):
        client.upload(local, "d/x")


def test_already_present_outcome_is_a_success(make_file: MakeFile) -> None:
    local = make_file("p", data=b"abc")

    def server(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/api/v2/upload/stage", "no bytes should be sent"
        transfer = {
            "name": "p",
            "outcome": "already_present",
            "existing_checksum": md5_of(b"abc").upper().replace("MD5", "md5"),
            "existing_size": 3,
        }
        return httpx.Response(200, json={"transfers": [transfer]})

    with LibrarianClient(URL, transport=httpx.MockTransport(server)) as client:
        result = client.upload(local, "p")

    assert result.already_present
    assert result.checksum == md5_of(b"abc")  # normalised to lower case
    assert result.size == 3


def test_files_over_one_chunk_are_streamed_in_mib_chunks(
    fake: FakeLibrarian, make_file: MakeFile
) -> None:
    data = bytes(range(256)) * (4096 * 3 + 7)  # ~3 MiB, not a multiple of the chunk
    local = make_file("big", data=data)
    chunk_sizes: list[int] = []

    class StreamSpy(httpx.BaseTransport):
        """Unlike MockTransport, does not read the body up front: we see the chunks."""

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            if request.method != "PUT":
                request.read()
                return fake.handle(request)
            assert request.headers["Content-Length"] == str(len(data))
            assert "Transfer-Encoding" not in request.headers
            assert isinstance(request.stream, httpx.SyncByteStream)
            chunks = list(request.stream)
            chunk_sizes.extend(len(c) for c in chunks)
            return fake.handle(rebuild(request, b"".join(chunks)))

    with LibrarianClient(URL, "alice", "secret", transport=StreamSpy()) as client:
        result = client.upload(local, "big")

    assert max(chunk_sizes) == 1 << 20
    assert sum(chunk_sizes) == len(data)
    assert result.checksum == md5_of(data)
    assert fake.files["big"].data == data


def test_local_copy_when_the_store_marker_matches(tmp_path: Path, make_file: MakeFile) -> None:
    marker = tmp_path / "store" / ".librarian-store"
    staging = tmp_path / "store" / "staging"
    staging.mkdir(parents=True)
    marker.write_text("uuid-123\n")
    fake = FakeLibrarian(local_dir=staging, store_marker=str(marker), store_uuid="uuid-123")
    data = b"copied, not PUT" * 100
    local = make_file("c", data=data)

    with LibrarianClient(URL, "alice", "secret", transport=fake.transport) as client:
        result = client.upload(local, "c")

    assert fake.count("PUT", "/api/v2/upload/") == 0
    assert fake.files["c"].data == data
    assert result.checksum == md5_of(data)


@pytest.mark.parametrize("problem", ["wrong_uuid", "unwritable"])
def test_falls_back_to_http_put_when_local_copy_is_not_possible(
    tmp_path: Path, make_file: MakeFile, problem: str
) -> None:
    marker = tmp_path / "marker"
    marker.write_text("uuid-123")
    staging = tmp_path / "staging"
    staging.mkdir()
    uuid = "other-uuid" if problem == "wrong_uuid" else "uuid-123"
    local_dir = staging if problem == "wrong_uuid" else tmp_path / "missing-dir"
    fake = FakeLibrarian(local_dir=local_dir, store_marker=str(marker), store_uuid=uuid)
    local = make_file("f", size=3000)
    progress: list[int] = []

    with LibrarianClient(URL, "alice", "secret", transport=fake.transport) as client:
        client.upload(local, "f", progress=lambda nbytes, nfiles: progress.append(nbytes))

    assert fake.count("POST", "/api/v2/upload/bundle") == 1
    assert fake.files["f"].data == local.read_bytes()
    assert sum(progress) == 3000
    assert list(staging.iterdir()) == []


def test_progress_reports_every_byte_and_every_file(
    client: LibrarianClient, fake: FakeLibrarian, make_file: MakeFile
) -> None:
    fake.add_file("p/0", b"already here")
    pairs = [(make_file("zero", data=b"already here"), "p/0")]
    pairs += [(make_file(f"f{i}", size=1000 * i), f"p/{i}") for i in range(1, 6)]
    seen = {"bytes": 0, "files": 0}

    def progress(nbytes: int, nfiles: int) -> None:
        seen["bytes"] += nbytes
        seen["files"] += nfiles

    client.upload_many(pairs, progress=progress)

    assert seen == {"bytes": 12 + 15000, "files": 6}


def test_bad_batch_is_rejected_whole_and_nothing_is_sent(
    client: LibrarianClient, fake: FakeLibrarian, make_file: MakeFile
) -> None:
    good, bad = make_file("good", size=10), make_file("bad", size=10)

    with pytest.raises(BadRequest, match="Bad name"):
        client.upload_many([(good, "ok/good"), (bad, "../escape")])

    assert fake.count("PUT", "/api/v2/upload/") == 0
    assert fake.files == {}


def test_store_full_is_insufficient_storage(make_file: MakeFile) -> None:
    fake = FakeLibrarian(capacity=100)
    with LibrarianClient(URL, "alice", "secret", transport=fake.transport) as client:
        with pytest.raises(InsufficientStorage):
            client.upload(make_file("big", size=101), "big")


def test_missing_or_non_regular_local_file_fails_before_any_request(
    client: LibrarianClient, fake: FakeLibrarian, tmp_path: Path
) -> None:
    with pytest.raises(FileNotFoundError):
        client.upload(tmp_path / "nope", "x")
    with pytest.raises(IsADirectoryError):
        client.upload(tmp_path, "x")
    assert fake.requests == []


def test_server_receiving_different_bytes_is_caught_at_put(make_file: MakeFile) -> None:
    fake = FakeLibrarian()

    def lossy(request: httpx.Request) -> httpx.Response:
        if request.method == "PUT" or request.url.path.endswith("/bundle"):
            request = rebuild(request, request.read()[:-1])
        return fake.handle(request)

    with LibrarianClient(URL, "alice", "secret", transport=httpx.MockTransport(lossy)) as client:
        with pytest.raises(VerificationFailed, match="received 99 bytes"):
            client.upload(make_file("f", size=100), "f")
    assert fake.count("POST", "/api/v2/upload/commit") == 0


def test_reader_notices_a_file_that_changed_size(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"12345")
    noop = progress_or_noop(None)
    with path.open("rb") as handle:
        with pytest.raises(LocalFileChanged, match="shrank"):
            list(HashingReader(handle, str(path), 10, "md5", noop))
    with path.open("rb") as handle:
        with pytest.raises(LocalFileChanged, match="grew"):
            list(HashingReader(handle, str(path), 3, "md5", noop))
    with path.open("rb") as handle:
        with pytest.raises(LocalFileChanged):
            HashingReader(handle, str(path), 4, "md5", noop).read_all_small()


def test_batch_size_is_validated(client: LibrarianClient) -> None:
    with pytest.raises(ValueError, match="batch_size"):
        client.upload_many([], batch_size=0)


def test_thousand_small_files_take_three_requests(
    client: LibrarianClient, fake: FakeLibrarian, make_file: MakeFile
) -> None:
    """Request count, not time, is what keeps small files fast (timing is in bench/)."""
    pairs = [(make_file(f"s/{i}", size=4096), f"small/{i}") for i in range(1000)]
    results = client.upload_many(pairs)
    assert len(results) == 1000
    assert fake.count("POST", "/api/v2/upload/stage") == 1
    assert fake.count("POST", "/api/v2/upload/bundle") == 1
    assert fake.count("POST", "/api/v2/upload/commit") == 1
    assert fake.count("PUT", "/api/v2/upload/") == 0


def test_a_clash_cancels_the_rest_of_the_batch(
    client: LibrarianClient, fake: FakeLibrarian, make_file: MakeFile
) -> None:
    fake.add_file("c/taken", b"old contents")
    pairs = [(make_file("new1", size=10), "c/new1"), (make_file("taken", size=12), "c/taken")]
    with pytest.raises(AlreadyExists):
        client.upload_many(pairs)
    assert fake.count("POST", "/api/v2/upload/cancel") == 1
    assert fake.transfers == {}  # the staged c/new1 was given back
    assert "c/new1" not in fake.files
