"""`librarian download` of trees, `--transfers`, `--dry-run`, and `connections add`."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from librarian_client import _upload
from librarian_client.config import load_config
from tests.integration.cli.conftest import Run
from tests.integration.conftest import PASSWORD, Site

MiB = 1 << 20
TREE = {
    "night/a.dat": b"alpha" * 100,
    "night/sub/b.dat": os.urandom(3 * MiB + 5),  # large: its own PUT, not a bundle
    "night/sub/deeper/c.dat": b"",
    "night/odd name ü.txt": b"unicode",
    "nightly/not-this.dat": b"a neighbour that a sloppy prefix would take",
}


def md5(data: bytes) -> str:
    return "md5:" + hashlib.md5(data).hexdigest()  # noqa: S324 - a checksum, not security


def local_tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def night(add_files: Callable[..., None]) -> dict[str, bytes]:
    add_files(TREE)
    return {k[len("night/") :]: v for k, v in TREE.items() if k.startswith("night/")}


def test_download_tree_is_verified_parallel_and_resumable(
    cli: Run, night: dict[str, bytes], tmp_path: Path
) -> None:
    target = tmp_path / "copy"

    first = cli("download", "night/", str(target), "--transfers", "3")
    again = cli("download", "night", str(target))  # no slash: still the directory

    assert first.code == 0, first.err
    assert local_tree(target) == night
    assert first.out.startswith(f"downloaded 4 files to {target}, 3.0 MiB in ")
    assert "MiB/s), each verified" in first.out
    assert again.out == f"downloaded 0 files to {target}; 4 already there and verified, skipped\n"
    # An interrupted download resumes: a missing file is fetched, the rest skipped.
    (target / "sub" / "b.dat").unlink()
    resumed = cli("download", "night/", str(target), "--json")
    actions = {Path(p["path"]).relative_to(target).as_posix(): p["action"] for p in resumed.json()}
    assert actions == {"a.dat": "skip", "sub/b.dat": "download", "sub/deeper/c.dat": "skip",
                       "odd name ü.txt": "skip"}  # fmt: skip
    assert local_tree(target) == night
    assert not [p for p in target.rglob("*") if p.name.endswith(".part")]


def test_download_never_overwrites_a_differing_file_without_force(
    cli: Run, night: dict[str, bytes], tmp_path: Path
) -> None:
    target = tmp_path / "copy"
    (target / "sub").mkdir(parents=True)
    (target / "a.dat").write_bytes(b"my own notes")

    refused = cli("download", "night/", str(target))
    single = cli("download", "night/a.dat", str(target))
    refused_json = cli("download", "night/", str(target), "--json")

    for result in (refused, single):
        assert result.code == 1
        assert result.err.count("\n") == 1
        assert result.err.startswith("librarian: error: 1 local file in the way: ")
        assert "differs from the server's file" in result.err and "--force" in result.err
    assert (target / "a.dat").read_bytes() == b"my own notes"
    assert not (target / "sub" / "b.dat").exists()  # nothing was downloaded
    error = json.loads(refused_json.err)
    assert set(error) == {"reason", "suggested_remedy"} and "--force" in error["suggested_remedy"]

    forced = cli("download", "night/", str(target), "--force")

    assert forced.code == 0, forced.err
    assert local_tree(target) == night


def test_download_dry_run_changes_nothing(
    cli: Run, night: dict[str, bytes], tmp_path: Path
) -> None:
    target = tmp_path / "copy"
    target.mkdir()
    (target / "a.dat").write_bytes(night["a.dat"])  # already there and the same

    tree = cli("download", "night/", str(target), "--dry-run")
    one = cli("download", "night/sub/b.dat", str(target / "b"), "--dry-run", "--json")

    assert tree.code == 0, tree.err
    lines = tree.out.splitlines()
    assert lines[-1] == "dry run: would download 3 files (3.0 MiB); nothing was changed"
    assert any(line.startswith("would skip") and "night/a.dat" in line for line in lines)
    assert sum(line.startswith("would download") for line in lines) == 3
    assert one.json()[0]["action"] == "download"
    assert local_tree(target) == {"a.dat": night["a.dat"]}


def test_download_of_nothing_is_an_error(cli: Run, tmp_path: Path) -> None:
    result = cli("download", "nothing/", str(tmp_path / "x"))

    assert result.code == 1
    assert result.err == "librarian: error: There are no files under 'nothing/'. " \
        "(`librarian ls` shows names.)\n"  # fmt: skip
    assert not (tmp_path / "x").exists()


def test_download_stops_on_a_corrupt_copy_and_leaves_no_partial_file(
    site: Site, cli: Run, night: dict[str, bytes], tmp_path: Path
) -> None:
    client = site.client("admin")
    (store,) = client.stores()
    instance = client.info("night/sub/b.dat").instances[0].path
    (stored,) = Path(store.root).rglob(Path(instance).name)
    stored.write_bytes(b"X" * stored.stat().st_size)  # bit rot, same size
    target = tmp_path / "copy"

    result = cli("download", "night/", str(target), "--transfers", "2")

    assert result.code == 1
    assert "does not verify" in result.err
    assert not (target / "sub" / "b.dat").exists()
    assert not [p for p in target.rglob("*") if p.name.startswith(".")]


def test_upload_in_parallel_commits_as_files_land(
    make_site: Callable[..., Site], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = make_site(offer_local_paths=False)  # bytes over HTTP, as from another machine
    src = tmp_path / "src"
    files = {f"big{i}.bin": os.urandom(MiB + 1 + i) for i in range(4)}
    files |= {f"small/{i}.txt": f"small {i}".encode() for i in range(30)}
    for rel, data in files.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(data)
    monkeypatch.setattr(_upload, "COMMIT_INTERVAL", 0.0)  # commit after every send
    counted: list[int] = []

    with site.client() as client:
        results = client.upload_many(
            [(src / rel, f"par/{rel}") for rel in files],
            transfers=3,
            progress=lambda nbytes, nfiles: counted.append(nfiles) if nfiles else None,
        )
        listed = {f.name: f.checksum for f in client.search(prefix="par/")}

    assert [r.name for r in results] == [f"par/{rel}" for rel in files]
    assert listed == {f"par/{rel}": md5(data) for rel, data in files.items()}
    # The four large files and the bundle of small ones were committed one by one.
    assert sorted(counted) == [1, 1, 1, 1, 30]


def test_upload_transfers_and_dry_run_through_the_cli(
    cli: Run, add_files: Callable[..., None], tmp_path: Path
) -> None:
    add_files({"up/same.txt": b"same", "up/other.txt": b"server's"})
    src = tmp_path / "src"
    src.mkdir()
    (src / "same.txt").write_bytes(b"same")
    (src / "new.bin").write_bytes(os.urandom(2 * MiB))

    dry = cli("upload", str(src), "up/", "--dry-run")
    after_dry = cli("ls", "up/").out
    real = cli("upload", str(src), "up/", "--transfers", "4")
    (src / "other.txt").write_bytes(b"mine")
    clash = cli("upload", str(src), "up/", "--dry-run", "--json")

    assert dry.code == 0, dry.err
    assert dry.out.splitlines() == [
        f"would upload    {src / 'new.bin'} -> up/new.bin",
        f"would skip      {src / 'same.txt'} -> up/same.txt (already there, same contents)",
        "dry run: would upload 1 file (2.0 MiB), skip 1; nothing was changed",
    ]
    assert after_dry.splitlines() == ["other.txt", "same.txt"]
    assert real.code == 0, real.err
    assert real.out.startswith("uploaded 1 file, 2.0 MiB in ")
    assert real.out.rstrip().endswith("MiB/s); 1 already present, skipped")
    assert clash.code == 1
    assert [p["action"] for p in json.loads(clash.out)] == ["skip", "conflict", "skip"]
    assert "different contents" in json.loads(clash.err)["reason"]


def test_connections_add_stores_a_token_never_the_password(
    site: Site, cli: Run, tmp_path: Path
) -> None:
    password_file = tmp_path / "pw"
    password_file.write_text(PASSWORD + "\n")
    wrong = tmp_path / "wrong"
    wrong.write_text("not it\n")

    added = cli(
        "connections", "add", "tok", "http://testserver", "--username", "reader",
        "--password-file", str(password_file), "--expires", "7d",
    )  # fmt: skip
    refused = cli(
        "connections", "add", "bad", "http://testserver", "--username", "reader",
        "--password-file", str(wrong),
    )  # fmt: skip
    ping = cli("ping", user="tok")

    assert added.code == 0, added.err
    assert "with a new token (expires " in added.out
    config_file = Path(os.environ["LIBRARIAN_CLIENT_CONFIG"])
    stored = json.loads(config_file.read_text())["connections"]["tok"]
    assert stored["password"] is None and stored["token"]
    assert PASSWORD not in json.dumps(stored)
    assert ping.code == 0 and ping.out.rstrip().endswith("as reader (read-only)")
    assert refused.code == 1 and refused.err.count("\n") == 1
    assert "bad" not in load_config().connections
    # Configs written before tokens (the writer connection holds a password) still work.
    assert load_config().connections["writer"].password is not None
    assert cli("ping").out.rstrip().endswith("as writer (read-append)")
