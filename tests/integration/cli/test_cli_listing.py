"""`librarian ls` (one level, -R, -l), `search` with no match, and GET /list paging."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.integration.cli.conftest import Run
from tests.integration.conftest import Site

TREE = {
    "obs/run1/a.dat": b"a" * 10,
    "obs/run1/deep/er/b.dat": b"b" * 2048,
    "obs/run1.dat": b"decoy",
    "obs/run10/c.dat": b"c",
    "obs/run1x/d.dat": b"d",
    "obs/top.txt": b"top",
    "obs/run1/0": b"zero",  # '0' sorts just after '/': the seek past run1/ must not skip it
    "cal/x": b"x",
}


@pytest.fixture
def tree(add_files: Callable[..., None]) -> None:
    add_files(TREE)


@pytest.mark.usefixtures("tree")
def test_ls_lists_one_level_with_directories_marked(cli: Run) -> None:
    top = cli("ls")
    obs = cli("ls", "obs/")
    no_slash = cli("ls", "obs")

    assert top.code == 0, top.err
    assert top.out.splitlines() == ["cal/", "obs/"]
    assert obs.out.splitlines() == [
        "run1.dat",
        "run1/",
        "run10/",
        "run1x/",
        "top.txt",
    ]
    assert no_slash.out == obs.out
    assert cli("ls", "obs/run1/").out.splitlines() == ["0", "a.dat", "deep/"]


@pytest.mark.usefixtures("tree")
def test_ls_recursive_long_and_json(cli: Run) -> None:
    recursive = cli("ls", "-R", "obs/run1")
    long = cli("ls", "-l", "obs/run1/")
    level = cli("ls", "obs/run1/", "--json")

    assert recursive.out.splitlines() == ["0", "a.dat", "deep/er/b.dat"]
    rows = [line.split() for line in long.out.splitlines()]
    assert rows[1][0:2] == ["10", "B"]
    assert rows[1][4].startswith("md5:") and len(rows[1][4]) == len("md5:") + 8
    assert rows[1][5] == "a.dat"
    assert rows[2] == ["-", "-", "-", "deep/"]
    entries = level.json()
    assert [(e["name"], e["type"]) for e in entries] == [
        ("obs/run1/0", "file"),
        ("obs/run1/a.dat", "file"),
        ("obs/run1/deep/", "directory"),
    ]
    assert entries[1]["size"] == 10 and entries[1]["checksum"].startswith("md5:")


@pytest.mark.usefixtures("tree")
def test_ls_of_a_file_and_of_nothing(cli: Run) -> None:
    one = cli("ls", "obs/top.txt", "--json")
    nothing = cli("ls", "nope/")
    nothing_json = cli("ls", "nope", "--json")

    assert [f["name"] for f in one.json()] == ["obs/top.txt"]
    assert (nothing.code, nothing.out) == (0, "")
    assert nothing.err == "librarian: nothing under 'nope/'\n"
    assert (nothing_json.json(), nothing_json.err) == ([], "")


@pytest.mark.usefixtures("tree")
def test_search_says_when_nothing_matched(cli: Run) -> None:
    found = cli("search", "--name", "obs/*.dat")
    none = cli("search", "--name", "*.fits")
    none_json = cli("search", "--name", "*.fits", "--json")

    assert len(found.out.splitlines()) == 5
    assert (none.code, none.out, none.err) == (0, "", "librarian: no files matched\n")
    assert (none_json.json(), none_json.err) == ([], "")


def test_list_endpoint_pages_through_directories_and_files(
    site: Site, add_files: Callable[..., None]
) -> None:
    # 40 directories of 3 files each, interleaved with 30 files.
    files = {f"p/d{i:02d}/f{j:02d}": b"" for i in range(40) for j in range(3)}
    files |= {f"p/d{i:02d}.txt": b"" for i in range(30)}
    add_files(files)
    client = site.client("reader")

    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = client.list_page("p/", limit=7, cursor=cursor)
        pages += 1
        assert len(page.directories) + len(page.files) <= 7
        seen += page.directories + [f.name for f in page.files]
        cursor = page.next_cursor
        if cursor is None:
            break

    expected = sorted({f"p/d{i:02d}/" for i in range(40)} | {f"p/d{i:02d}.txt" for i in range(30)})
    assert sorted(seen) == expected
    assert len(seen) == len(expected) == 70
    assert pages == 10
    merged = [e if isinstance(e, str) else e.name for e in client.listdir("p/", page_size=7)]
    assert merged == sorted(expected)


def test_list_endpoint_refuses_a_bad_cursor(site: Site) -> None:
    r = site.http.get("/api/v2/list", params={"cursor": "!!"}, auth=site.auth("reader"))

    assert r.status_code == 400
    assert r.json()["suggested_remedy"]
