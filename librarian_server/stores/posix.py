"""A store on a POSIX filesystem.

Layout under the root::

    .librarian-store            marker holding the store's UUID (same-filesystem detection)
    files/abc/<hash>.<random>-<basename>  committed files: 4,096 buckets from SHA-256(name), made
                                with the store, so no directory grows to millions of
                                entries (~24k at 100 M files) and a commit never mkdirs;
                                the basename keeps a path recognisable to an operator;
                                the random part is per transfer, so two uploads of one
                                name never share bytes
    quarantine/<label>-<name>   bytes an audit found bad (or stray), moved aside until a
                                verified replacement is committed or an operator decides
    staging/<random>            one file per transfer in a private (0700) directory on the
                                same filesystem, so a commit is a rename

Commit is a rename that refuses to overwrite (atomic), followed by a sync to disk,
before the database records the file.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import hashlib
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from librarian_server.errors import ConfigurationError, FileAlreadyExists
from librarian_server.stores.base import StoreBackend

MARKER = ".librarian-store"


def _load_syncfs() -> Callable[[int], int] | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        syncfs: Callable[[int], int] = libc.syncfs
        return syncfs
    except (OSError, AttributeError):
        return None


_syncfs = _load_syncfs()
_SYNC_FILE_RANGE_WRITE = 2


def _load_sync_file_range() -> Callable[[int, int, int, int], int] | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        function = libc.sync_file_range
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    sync_file_range: Callable[[int, int, int, int], int] = function
    return sync_file_range


_sync_file_range = _load_sync_file_range()


_AT_FDCWD = -100
_RENAME_NOREPLACE = 1


def _load_renameat2() -> Callable[[int, bytes, int, bytes, int], int] | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        function = libc.renameat2
    except (OSError, AttributeError):
        return None
    function.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    ]
    renameat2: Callable[[int, bytes, int, bytes, int], int] = function
    return renameat2


_renameat2 = _load_renameat2()


def move_no_replace(source: Path, target: Path) -> None:
    """Atomically move ``source`` to ``target``; FileExistsError if the target exists.

    One ``renameat2(RENAME_NOREPLACE)`` where Linux and the filesystem offer it,
    else ``link`` + ``unlink`` (also atomic, and also refuses to overwrite).
    """
    if _renameat2 is not None:
        if _renameat2(_AT_FDCWD, bytes(source), _AT_FDCWD, bytes(target), _RENAME_NOREPLACE) == 0:
            return
        err = ctypes.get_errno()
        if err not in (errno.EINVAL, errno.ENOSYS):
            raise OSError(err, os.strerror(err), str(target))
    os.link(source, target)
    os.unlink(source)


def start_writeback(fd: int, offset: int, length: int) -> None:
    """Ask the kernel to begin writing a range to disk now (Linux); no-op elsewhere."""
    if _sync_file_range is not None:
        _sync_file_range(fd, offset, length, _SYNC_FILE_RANGE_WRITE)


FSYNC_EACH_UP_TO = 16
BUCKET_DIGITS = 3
MAX_BASENAME = 180  # bytes; the whole entry stays well under NAME_MAX (255)


def bucketed_path(name: str, unique: str = "") -> str:
    """``abc/<hash>.<unique>-<basename>``: the store path scheme of every store kind."""
    digest = hashlib.sha256(name.encode()).hexdigest()
    basename = name.rsplit("/", 1)[-1].encode()[:MAX_BASENAME].decode(errors="ignore")
    middle = digest[BUCKET_DIGITS:32] + (f".{unique}" if unique else "")
    return f"{digest[:BUCKET_DIGITS]}/{middle}-{basename}"


def _fsync(path: Path, flags: int) -> None:
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class PosixStore(StoreBackend):
    def __init__(self, root: Path | str, uuid: str, *, fsync: bool = True) -> None:
        self.root = Path(root)
        self.uuid = uuid
        self.fsync = fsync
        self.files_dir = self.root / "files"
        self.staging_root = self.root / "staging"
        self.quarantine_root = self.root / "quarantine"
        self._made_buckets = False  # a bucket made since the last sync: sync its parent too

    @classmethod
    def initialise(cls, root: Path, uuid: str, *, make_buckets: bool = True) -> PosixStore:
        """Create the directory layout and marker for a new store.

        The buckets are made up front so that a commit never needs a mkdir; a store made
        without them (``make_buckets=False``, for short-lived test stores) makes each
        bucket at its first commit instead, durably.
        """
        store = cls(root, uuid)
        store.files_dir.mkdir(parents=True, exist_ok=True)
        if make_buckets:
            for bucket in range(16**BUCKET_DIGITS):
                (store.files_dir / f"{bucket:0{BUCKET_DIGITS}x}").mkdir(exist_ok=True)
        store.staging_root.mkdir(mode=0o700, parents=True, exist_ok=True)
        marker = store.marker_path
        if marker.exists() and marker.read_text().strip() != uuid:
            raise ConfigurationError(
                f"{root} already holds another store ({marker} differs).",
                "Choose an empty directory for a new store.",
            )
        marker.write_text(uuid + "\n")
        return store

    @property
    def marker_path(self) -> Path:
        return self.root / MARKER

    def path_for(self, name: str, unique: str = "") -> str:
        return bucketed_path(name, unique)

    def local_path(self, store_path: str) -> Path:
        return self.files_dir / store_path

    def new_staging_path(self) -> Path:
        if not self.staging_root.is_dir():
            self.staging_root.mkdir(mode=0o700, parents=True, exist_ok=True)
        return self.staging_root / secrets.token_hex(12)

    def discard_staging(self, staging_path: Path) -> None:
        try:
            os.unlink(staging_path)
        except FileNotFoundError:
            pass
        except IsADirectoryError:  # the per-transfer directories of earlier versions
            shutil.rmtree(staging_path, ignore_errors=True)

    def commit_many(self, moves: list[tuple[Path, str]]) -> list[tuple[Path, str]]:
        """Link every file into place, then make all of it durable before returning."""
        done: list[tuple[Path, str]] = []
        try:
            for staging_path, store_path in moves:
                self._move_into_place(staging_path, store_path)
                done.append((staging_path, store_path))
            self._sync([store_path for _, store_path in moves])
        except BaseException:
            for staging_path, store_path in reversed(done):
                self.uncommit(store_path, staging_path)
            raise
        return done

    def _sync(self, store_paths: list[str]) -> None:
        """Flush the committed files' data and directory entries to disk.

        A few files are fsynced one by one (with their directories); a larger batch
        costs one ``syncfs`` instead of two fsyncs per file, which for a thousand
        small files is one disk flush, not two thousand. The database commit comes
        after either, so a crash before it leaves bytes that start-up clean-up
        removes, never a File row without its bytes.
        """
        if not self.fsync:
            return
        if len(store_paths) > FSYNC_EACH_UP_TO and _syncfs is not None:
            fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)
            try:
                if _syncfs(fd) == 0:
                    return
            finally:
                os.close(fd)
        directories = set()
        for store_path in store_paths:
            target = self.local_path(store_path)
            _fsync(target, os.O_RDONLY)
            directories.add(target.parent)
        if self._made_buckets:
            directories.add(self.files_dir)  # the new buckets' own entries
            self._made_buckets = False
        for directory in directories:
            _fsync(directory, os.O_RDONLY | os.O_DIRECTORY)

    def _move_into_place(self, source: Path, store_path: str) -> None:
        target = self.local_path(store_path)
        try:
            try:
                move_no_replace(source, target)
            except FileNotFoundError:
                if not source.exists():
                    raise
                target.parent.mkdir(parents=True, exist_ok=True)  # a bucket not made yet
                self._made_buckets = True
                move_no_replace(source, target)
        except FileExistsError:
            raise FileAlreadyExists(
                f"The store already holds bytes at {store_path!r}.",
                "An earlier commit of this name did not finish; an administrator should "
                "check the store.",
            ) from None

    def uncommit(self, store_path: str, staging_path: Path) -> None:
        target = self.local_path(store_path)
        staged = staging_path
        with contextlib.suppress(FileExistsError, FileNotFoundError):
            os.link(target, staged)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(target)

    def exists(self, store_path: str) -> bool:
        return self.local_path(store_path).is_file()

    def open_read(self, store_path: str, start: int = 0, end: int | None = None) -> BinaryIO:
        handle = open(self.local_path(store_path), "rb")
        if start:
            handle.seek(start)
        return handle

    def size_of(self, store_path: str) -> int | None:
        try:
            return os.stat(self.local_path(store_path)).st_size
        except FileNotFoundError:
            return None

    def describe(self, store_path: str) -> str:
        return str(self.local_path(store_path))

    def delete(self, store_path: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.local_path(store_path))

    def free_bytes(self) -> int:
        return shutil.disk_usage(self.root).free

    def staging_entries(self) -> list[Path]:
        if not self.staging_root.is_dir():
            return []
        return list(self.staging_root.iterdir())

    def walk(self, after: str | None = None) -> Iterator[tuple[str, float]]:
        """Bucket by bucket in name order; a bucket is listed whole (at most a few
        thousand entries), so memory stays bounded however large the store."""
        if not self.files_dir.is_dir():
            return
        start_bucket = after.split("/", 1)[0] if after else ""
        for bucket in sorted(os.listdir(self.files_dir)):
            if bucket < start_bucket:
                continue
            bucket_dir = self.files_dir / bucket
            try:
                entries = sorted(os.scandir(bucket_dir), key=lambda e: e.name)
            except NotADirectoryError:
                entries = []
                if after is None or bucket > after:
                    with contextlib.suppress(OSError):
                        yield bucket, os.stat(bucket_dir).st_mtime
                continue
            except FileNotFoundError:
                continue
            for entry in entries:
                store_path = f"{bucket}/{entry.name}"
                if after is not None and store_path <= after:
                    continue
                with contextlib.suppress(OSError):
                    yield store_path, entry.stat(follow_symlinks=False).st_mtime

    def quarantine(self, store_path: str, label: str) -> str:
        self.quarantine_root.mkdir(mode=0o700, exist_ok=True)
        basename = store_path.rsplit("/", 1)[-1][:MAX_BASENAME]
        quarantine_path = f"{label}-{basename}"
        move_no_replace(self.local_path(store_path), self.quarantine_root / quarantine_path)
        if self.fsync:
            _fsync(self.quarantine_root, os.O_RDONLY)
            _fsync(self.local_path(store_path).parent, os.O_RDONLY)
        return quarantine_path

    def open_quarantined(self, quarantine_path: str) -> BinaryIO:
        return open(self.quarantine_root / quarantine_path, "rb")

    def delete_quarantined(self, quarantine_path: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.quarantine_root / quarantine_path)

    def adopt(self, quarantine_path: str, store_path: str) -> None:
        self._move_into_place(self.quarantine_root / quarantine_path, store_path)
        self._sync([store_path])
