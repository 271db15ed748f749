"""`librarian ls`, `search`, `info`, `stores`: human units vs exact JSON."""

from __future__ import annotations

import json

import pytest

from tests.unit.cli.conftest import Run
from tests.unit.fake_librarian import FakeLibrarian, md5_of

pytestmark = pytest.mark.usefixtures("configured")


@pytest.fixture
def catalogue(fake: FakeLibrarian) -> FakeLibrarian:
    fake.add_file("obs/1/small.txt", b"x" * 10)
    fake.add_file("obs/1/big.g3", b"y" * 3 * 1024 * 1024, uploader="bob")
    fake.add_file("obs/2/mid.g3", b"z" * 5000)
    fake.add_file("cal/c.txt", b"c")
    return fake


def test_ls_prints_size_created_name(run: Run, catalogue: FakeLibrarian) -> None:
    result = run("ls", "-R", "-l", "obs/1/")

    assert result.code == 0
    assert result.out.splitlines() == [
        f"   3.0 MiB  2024-06-01 00:00:01Z  {md5_of(b'y' * 3 * 1024 * 1024)[:12]}  big.g3",
        f"      10 B  2024-06-01 00:00:00Z  {md5_of(b'x' * 10)[:12]}  small.txt",
    ]


def test_ls_long_adds_checksum_and_lists_everything_without_prefix(
    run: Run, catalogue: FakeLibrarian
) -> None:
    result = run("ls", "-R", "-l")

    lines = result.out.splitlines()
    assert [line.split()[-1] for line in lines] == [
        "cal/c.txt",
        "obs/1/big.g3",
        "obs/1/small.txt",
        "obs/2/mid.g3",
    ]
    assert md5_of(b"c")[:12] in lines[0]


def test_ls_follows_cursors(run: Run, fake: FakeLibrarian) -> None:
    for i in range(2500):
        fake.add_file(f"many/{i:05d}", b"")

    result = run("ls", "-R", "many/")

    assert len(result.out.splitlines()) == 2500
    assert fake.count("GET", "/api/v2/search") == 3


def test_ls_json_has_exact_sizes_and_iso_times(run: Run, catalogue: FakeLibrarian) -> None:
    result = run("ls", "-R", "obs/", "--json")

    rows = json.loads(result.out)
    assert [(r["name"], r["size"]) for r in rows] == [
        ("obs/1/big.g3", 3 * 1024 * 1024),
        ("obs/1/small.txt", 10),
        ("obs/2/mid.g3", 5000),
    ]
    assert rows[0]["created_time"] == "2024-06-01T00:00:01Z"


def test_empty_listing_json_is_an_empty_array(run: Run) -> None:
    assert json.loads(run("--json", "ls", "-R", "nothing/").out) == []


def test_search_filters(run: Run, catalogue: FakeLibrarian) -> None:
    by_glob = run("search", "--name", "obs/*.g3", "--min-size", "4KiB", "--json")
    by_user = run("search", "--uploader", "bob")
    limited = run("search", "--prefix", "obs/", "--limit", "1")
    by_time = run("search", "--created-after", "2024-06-01T00:00:01", "--max-size", "1MB")

    assert [r["name"] for r in json.loads(by_glob.out)] == ["obs/1/big.g3", "obs/2/mid.g3"]
    assert by_user.out.split()[-1] == "obs/1/big.g3" and len(by_user.out.splitlines()) == 1
    assert len(limited.out.splitlines()) == 1
    assert [line.split()[-1] for line in by_time.out.splitlines()] == ["cal/c.txt", "obs/2/mid.g3"]


@pytest.mark.parametrize(
    "argv",
    [
        ("search", "--min-size", "lots"),
        ("search", "--created-after", "yesterday"),
        ("search", "--limit", "0"),
    ],
)
def test_search_bad_arguments_are_usage_errors(run: Run, argv: tuple[str, ...]) -> None:
    result = run(*argv)

    assert result.code == 2
    assert "usage: librarian search" in result.err


def test_info_shows_fields_and_instances(run: Run, catalogue: FakeLibrarian) -> None:
    result = run("info", "obs/2/mid.g3")

    assert result.code == 0
    lines = result.out.splitlines()
    assert lines[:6] == [
        "name:      obs/2/mid.g3",
        "size:      4.9 KiB (5000 bytes)",
        f"checksum:  {md5_of(b'z' * 5000)}",
        "uploader:  alice",
        "source:    fake",
        "created:   2024-06-01 00:00:02Z",
    ]
    assert lines[6] == "instances:"
    assert lines[7].split() == [
        "STORE", "AVAILABLE", "VERIFIED", "CHECKED", "BY", "CREATED", "PATH"
    ]  # fmt: skip
    assert lines[8].split() == [
        "store1", "yes", "-", "-", "-", "2024-06-01", "00:00:02Z", "obs/2/mid.g3"
    ]  # fmt: skip


def test_info_json(run: Run, catalogue: FakeLibrarian) -> None:
    info = json.loads(run("info", "cal/c.txt", "--json").out)

    assert info["size"] == 1
    assert info["instances"][0]["available"] is True


def test_info_missing_file_exit_1(run: Run) -> None:
    result = run("info", "no/such")

    assert result.code == 1
    assert result.err == "librarian: error: No file named 'no/such'. (Check the name.)\n"


def test_stores_table_and_json(run: Run, catalogue: FakeLibrarian) -> None:
    table = run("stores")
    data = json.loads(run("stores", "--json").out)

    assert table.out.splitlines()[0].split()[:3] == ["NAME", "KIND", "ENABLED"]
    assert table.out.splitlines()[1].split()[:2] == ["store1", "posix"]
    assert data[0]["used_bytes"] == 10 + 3 * 1024 * 1024 + 5000 + 1
