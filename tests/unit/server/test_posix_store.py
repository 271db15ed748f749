from __future__ import annotations

from pathlib import Path

import pytest

from librarian_server.errors import ConfigurationError, FileAlreadyExists
from librarian_server.stores import PosixStore


def test_layout_spreads_files_and_keeps_names(tmp_path: Path) -> None:
    store = PosixStore.initialise(tmp_path / "s", "u-1")
    paths = {store.path_for(f"obs/{i}.g3") for i in range(2000)}
    assert len(paths) == 2000
    assert len({p.split("/")[0] for p in paths}) > 1000  # spread over the 4,096 buckets
    assert all(
        p.endswith(f"-{i}.g3")
        for i, p in enumerate(store.path_for(f"obs/{i}.g3") for i in range(2000))
    )
    assert all(p.count("/") == 1 and store.local_path(p).parent.is_dir() for p in paths)
    long = store.path_for("d/" + "ü" * 120)  # 240 bytes: truncated, not split mid-character
    assert len(long.split("/")[1].encode()) <= 255 and long.endswith("ü")
    assert store.marker_path.read_text().strip() == "u-1"


def test_commit_is_atomic_and_never_overwrites(tmp_path: Path) -> None:
    store = PosixStore.initialise(tmp_path / "s", "u-1")
    first = store.new_staging_path()
    first.write_bytes(b"one")
    store.commit(first, store.path_for("f"))
    assert store.local_path(store.path_for("f")).read_bytes() == b"one"
    assert not first.exists()

    second = store.new_staging_path()
    second.write_bytes(b"two")
    with pytest.raises(FileAlreadyExists):
        store.commit(second, store.path_for("f"))
    assert store.local_path(store.path_for("f")).read_bytes() == b"one"
    assert second.read_bytes() == b"two"


def test_uncommit_moves_bytes_back(tmp_path: Path) -> None:
    store = PosixStore.initialise(tmp_path / "s", "u-1")
    staging = store.new_staging_path()
    staging.write_bytes(b"data")
    store.commit(staging, "aa/bb/x")
    store.uncommit("aa/bb/x", staging)
    assert not store.exists("aa/bb/x")
    assert staging.read_bytes() == b"data"


def test_refuses_a_directory_holding_another_store(tmp_path: Path) -> None:
    PosixStore.initialise(tmp_path / "s", "u-1")
    with pytest.raises(ConfigurationError):
        PosixStore.initialise(tmp_path / "s", "u-2")


def test_move_no_replace_is_atomic_and_refuses_to_overwrite(tmp_path: Path) -> None:
    from librarian_server.stores.posix import move_no_replace

    (tmp_path / "a").write_bytes(b"new")
    (tmp_path / "b").write_bytes(b"old")
    with pytest.raises(FileExistsError):
        move_no_replace(tmp_path / "a", tmp_path / "b")
    assert (tmp_path / "b").read_bytes() == b"old" and (tmp_path / "a").exists()
    move_no_replace(tmp_path / "a", tmp_path / "c")
    assert (tmp_path / "c").read_bytes() == b"new" and not (tmp_path / "a").exists()
    with pytest.raises(FileNotFoundError):
        move_no_replace(tmp_path / "missing", tmp_path / "d")


def test_staging_is_private_and_discarding_is_idempotent(tmp_path: Path) -> None:
    import stat

    store = PosixStore.initialise(tmp_path / "s", "u-1")
    assert stat.S_IMODE(store.staging_root.stat().st_mode) == 0o700
    first, second = store.new_staging_path(), store.new_staging_path()
    assert first != second and first.parent == store.staging_root and not first.exists()
    first.write_bytes(b"x")
    legacy = store.staging_root / "0123abcd"  # a per-transfer directory of earlier versions
    (legacy / "data").parent.mkdir()
    (legacy / "data").write_bytes(b"y")
    assert sorted(store.staging_entries()) == sorted([first, legacy])
    for entry in (first, legacy, first, second):
        store.discard_staging(entry)
    assert store.staging_entries() == []


def test_a_store_without_buckets_makes_each_at_its_first_commit(tmp_path: Path) -> None:
    store = PosixStore.initialise(tmp_path / "s", "u-1", make_buckets=False)
    assert list(store.files_dir.iterdir()) == []
    names = [f"obs/{i}.g3" for i in range(3)]
    moves = []
    for name in names:
        staged = store.new_staging_path()
        staged.write_bytes(name.encode())
        moves.append((staged, store.path_for(name)))
    store.commit_many(moves)
    assert len(list(store.files_dir.iterdir())) == len({p.split("/")[0] for _, p in moves})
    for name in names:
        assert store.local_path(store.path_for(name)).read_bytes() == name.encode()
    assert not store._made_buckets  # the new buckets' directory was synced with the files
