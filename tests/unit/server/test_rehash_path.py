"""The one judgement of a copy's bytes: each finding, from real files."""

from __future__ import annotations

from pathlib import Path

from librarian_client.checksum import checksum_file
from librarian_client.models import Finding
from librarian_server.services.integrity.rehash import rehash_path


def _copy(tmp_path: Path, data: bytes = b"x" * 3_000_000) -> tuple[Path, int, str]:
    path = tmp_path / "copy"
    path.write_bytes(data)
    return path, len(data), checksum_file(str(path))


def test_a_true_copy_is_ok_and_every_byte_was_read(tmp_path: Path) -> None:
    path, size, checksum = _copy(tmp_path)
    told: list[int] = []
    verdict = rehash_path(path, size, checksum, throttle=told.append)
    assert verdict.finding is Finding.OK
    assert verdict.bytes_read == size == sum(told)


def test_one_flipped_byte_is_corrupt(tmp_path: Path) -> None:
    path, size, checksum = _copy(tmp_path)
    with path.open("r+b") as handle:
        handle.seek(1_234_567)
        handle.write(b"y")
    verdict = rehash_path(path, size, checksum)
    assert verdict.finding is Finding.CORRUPT
    assert checksum in verdict.detail


def test_a_missing_copy_and_a_wrong_size(tmp_path: Path) -> None:
    path, size, checksum = _copy(tmp_path)
    assert rehash_path(path, size + 1, checksum).finding is Finding.WRONG_SIZE
    path.unlink()
    assert rehash_path(path, size, checksum).finding is Finding.MISSING


def test_an_unknown_algorithm_is_reported_not_raised(tmp_path: Path) -> None:
    path, size, _ = _copy(tmp_path, b"abc")
    assert rehash_path(path, size, "nope:00").finding is Finding.UNREADABLE
