"""`librarian upload` / `download`: naming, summary, JSON, progress, failures."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pytest

from tests.unit.cli.conftest import Run
from tests.unit.fake_librarian import FakeLibrarian, md5_of

pytestmark = pytest.mark.usefixtures("configured")


def test_upload_directory_names_files_dest_relative_path(
    run: Run, fake: FakeLibrarian, tree: Path
) -> None:
    result = run("upload", str(tree), "obs/night1/")

    assert result.code == 0, result.err
    assert sorted(fake.files) == [
        "obs/night1/a.txt",
        "obs/night1/sub/b.bin",
        "obs/night1/sub/deeper/c.dat",
    ]
    assert fake.files["obs/night1/sub/b.bin"].data == b"\x00" * 2048
    assert re.fullmatch(
        r"uploaded 3 files, 4\.9 KiB in \d+\.\d\d s \(\d+\.\d MiB/s\)\n", result.out
    ), result.out
    assert result.err == ""


def test_upload_file_to_name_or_into_prefix(run: Run, fake: FakeLibrarian, tree: Path) -> None:
    assert run("upload", str(tree / "a.txt"), "exact/name.txt").code == 0
    assert run("upload", str(tree / "a.txt"), "dir/").code == 0

    assert sorted(fake.files) == ["dir/a.txt", "exact/name.txt"]


def test_second_upload_reports_already_present(run: Run, fake: FakeLibrarian, tree: Path) -> None:
    run("upload", str(tree), "d")
    puts = fake.count("PUT", "/api/v2/upload/")

    result = run("upload", str(tree), "d")

    assert result.code == 0
    assert result.out == "uploaded 0 files; 3 already present, skipped\n"
    assert fake.count("PUT", "/api/v2/upload/") == puts


@pytest.mark.parametrize("where", ["before", "after"])
def test_upload_json_has_exact_values(
    run: Run, fake: FakeLibrarian, tree: Path, where: str
) -> None:
    fake.add_file("d/a.txt", b"alpha")
    argv = ["upload", str(tree), "d"]
    argv = ["--json", *argv] if where == "before" else [*argv, "--json"]

    result = run(*argv)

    assert result.code == 0
    rows = json.loads(result.out)
    assert [(r["name"], r["size"], r["already_present"]) for r in rows] == [
        ("d/a.txt", 5, True),
        ("d/sub/b.bin", 2048, False),
        ("d/sub/deeper/c.dat", 3000, False),
    ]
    assert rows[1]["checksum"] == md5_of(b"\x00" * 2048)


def test_upload_follows_file_symlinks_not_directory_symlinks(
    run: Run, fake: FakeLibrarian, tree: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "o.txt").write_bytes(b"outside")
    os.symlink(outside / "o.txt", tree / "link.txt")
    os.symlink(outside, tree / "linkdir")
    os.symlink(tmp_path / "missing", tree / "dangling")

    result = run("upload", str(tree), "d")

    assert result.code == 0
    assert fake.files["d/link.txt"].data == b"outside"
    assert not any(name.startswith("d/linkdir") for name in fake.files)
    assert "skipping" in result.err and "dangling" in result.err


def test_upload_conflict_is_one_line_and_exit_1(run: Run, fake: FakeLibrarian, tree: Path) -> None:
    fake.add_file("x", b"different")

    result = run("upload", str(tree / "a.txt"), "x")

    assert result.code == 1
    lines = result.err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("librarian: error: x already exists on the server")
    assert lines[0].endswith("(Files are immutable: upload under a new name.)")
    assert fake.files["x"].data == b"different"


def test_upload_missing_source_is_one_line(run: Run, fake: FakeLibrarian, tmp_path: Path) -> None:
    result = run("upload", str(tmp_path / "nope"), "x")

    assert result.code == 1
    assert result.err.count("\n") == 1
    assert "No such file or directory" in result.err and "nope" in result.err
    assert fake.requests == []


def test_upload_empty_directory_is_an_error(run: Run, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()

    result = run("upload", str(tmp_path / "empty"), "x")

    assert result.code == 1
    assert result.err.startswith("librarian: error: There are no files under")


def test_progress_bar_on_a_terminal_counts_bytes_and_files(
    run: Run, tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)

    shown = run("upload", str(tree), "p1")
    hidden = run("upload", str(tree), "p2", "--no-progress")

    assert shown.code == hidden.code == 0
    assert shown.err.startswith("\rupload:")
    assert "0/3 files" in shown.err and "3/3 files" in shown.err
    assert "4.9 KiB/4.9 KiB" in shown.err and "MiB/s" in shown.err
    assert hidden.err == ""


def test_download_verifies_and_reports(run: Run, fake: FakeLibrarian, tmp_path: Path) -> None:
    fake.add_file("obs/d.g3", b"g3 data" * 100)

    result = run("download", "obs/d.g3", str(tmp_path))

    assert result.code == 0, result.err
    assert (tmp_path / "d.g3").read_bytes() == b"g3 data" * 100
    assert result.out.startswith(f"downloaded obs/d.g3 to {tmp_path / 'd.g3'}: 700 B in ")
    assert result.out.rstrip().endswith(f"{md5_of(b'g3 data' * 100)} verified")


def test_download_json_is_the_file_info(run: Run, fake: FakeLibrarian, tmp_path: Path) -> None:
    fake.add_file("f", b"12345")

    result = run("--json", "download", "f", str(tmp_path / "f"))

    info = json.loads(result.out)
    assert (info["name"], info["size"], info["created_time"]) == ("f", 5, "2024-06-01T00:00:00Z")


def test_download_mismatch_exits_1_and_leaves_nothing(
    run: Run, fake: FakeLibrarian, tmp_path: Path
) -> None:
    fake.add_file("f", b"12345")
    fake.corrupt_downloads.add("f")
    target = tmp_path / "out"
    target.mkdir()

    result = run("download", "f", str(target))

    assert result.code == 1
    assert result.err.startswith("librarian: error: Downloaded f does not verify")
    assert result.err.count("\n") == 1
    assert list(target.iterdir()) == []
