"""The simulator's two trees, the disk cache and the tape, and the copies between them.

Everything here is blocking file I/O, run on worker threads. A copy is written under a
temporary name in the destination's directory, flushed to disk and renamed, so a reader of
the disk cache sees either nothing or the whole file.
"""

from __future__ import annotations

import contextlib
import math
import os
import secrets
import stat
import threading
import time
from dataclasses import dataclass

MIB = 1 << 20
MAX_PATH = 4096


class BadPath(ValueError):
    """A path the tape system does not manage (outside its root, or not a clean name)."""


@dataclass(frozen=True)
class Presence:
    """Where a file's bytes are: the size of each copy, None where there is none."""

    disk_size: int | None
    tape_size: int | None

    @property
    def exists(self) -> bool:
        return self.disk_size is not None or self.tape_size is not None

    @property
    def size(self) -> int | None:
        return self.disk_size if self.disk_size is not None else self.tape_size


def blocks(size: int) -> int:
    """The 1 MiB blocks a file occupies (an empty file still has one, as on a real HSM)."""
    return max(1, math.ceil(size / MIB))


def _regular_size(path: str) -> int | None:
    try:
        st = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    return st.st_size if stat.S_ISREG(st.st_mode) else None


class Layout:
    """Maps the API's absolute paths (under ``root``) to the disk and tape copies."""

    def __init__(self, root: str, tape: str) -> None:
        self.root = os.path.abspath(root)
        self._real_root = os.path.realpath(root)
        self.tape = os.path.realpath(tape)

    def relative(self, path: object) -> str:
        """The path relative to the root, or BadPath: clients name files by absolute paths
        under the root, and nothing else (no ``..``, no symlink out) may reach a file."""
        if not isinstance(path, str) or not path:
            raise BadPath("a path must be a non-empty string")
        if len(path) > MAX_PATH:
            raise BadPath(f"a path is longer than {MAX_PATH} characters")
        if any(ord(c) < 32 or ord(c) == 127 for c in path):
            raise BadPath(f"the path {path!r} holds a control character (NUL, newline, ...)")
        if not path.startswith("/"):
            raise BadPath(f"the path {path!r} is not absolute")
        if any(part in ("", ".", "..") for part in path.split("/")[1:]):
            raise BadPath(f"the path {path!r} has an empty, '.' or '..' component")
        prefix = self.root.rstrip("/") + "/"
        if not path.startswith(prefix):
            raise BadPath(f"the path {path!r} is outside the managed filesystem {self.root}")
        rel = path[len(prefix) :]
        real = os.path.realpath(os.path.join(self._real_root, rel))
        if not real.startswith(self._real_root.rstrip("/") + "/"):
            raise BadPath(f"the path {path!r} leads outside the managed filesystem")
        return rel

    def disk(self, rel: str) -> str:
        return os.path.join(self.root, rel)

    def on_tape(self, rel: str) -> str:
        return os.path.join(self.tape, rel)

    def presence(self, rel: str) -> Presence:
        return Presence(_regular_size(self.disk(rel)), _regular_size(self.on_tape(rel)))

    def used_bytes(self) -> int:
        """Bytes of the regular files on the disk cache (symlinks not followed)."""
        total = 0
        pending = [self.root]
        while pending:
            directory = pending.pop()
            with contextlib.suppress(OSError), os.scandir(directory) as entries:
                for entry in entries:
                    with contextlib.suppress(OSError):
                        if entry.is_dir(follow_symlinks=False):
                            pending.append(entry.path)
                        elif entry.is_file(follow_symlinks=False):
                            total += entry.stat(follow_symlinks=False).st_size
        return total


class Throttle:
    """A shared bandwidth limit: copies on all threads together stay under the rate, as
    they would behind one tape drive. A rate of 0 means unlimited."""

    def __init__(self, mib_per_s: float) -> None:
        self.mib_per_s = mib_per_s
        self._lock = threading.Lock()
        self._next = 0.0

    def take(self, nbytes: int) -> None:
        rate = self.mib_per_s
        if rate <= 0:
            return
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + nbytes / (rate * MIB)
            wait = self._next - now
        if wait > 0:
            time.sleep(wait)


class Stopped(Exception):
    """The simulator is shutting down; a copy in progress is abandoned."""


def copy_durably(
    src: str, dst: str, throttle: Throttle | None = None, stopping: threading.Event | None = None
) -> int:
    """Copy ``src`` to ``dst`` through a temporary sibling, fsync and rename; the size."""
    directory, name = os.path.split(dst)
    temp = os.path.join(directory, f".{name}.tapesim-{secrets.token_hex(4)}")
    size = 0
    with open(src, "rb") as fin:
        try:
            fout = open(temp, "xb")
        except FileNotFoundError:
            os.makedirs(directory, exist_ok=True)
            fout = open(temp, "xb")
        try:
            with fout:
                while chunk := fin.read(MIB):
                    if stopping is not None and stopping.is_set():
                        raise Stopped
                    if throttle is not None:
                        throttle.take(len(chunk))
                    fout.write(chunk)
                    size += len(chunk)
                fout.flush()
                os.fsync(fout.fileno())
            os.replace(temp, dst)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise
    return size


def stage_one(
    layout: Layout, rel: str, throttle: Throttle, stopping: threading.Event
) -> tuple[int | None, str | None]:
    """Bring one file from tape onto the disk: (size, None) or (None, error text)."""
    disk_size = _regular_size(layout.disk(rel))
    if disk_size is not None:
        return disk_size, None  # already there (staged by an earlier request)
    tape = layout.on_tape(rel)
    if _regular_size(tape) is None:
        return None, "no copy on tape"
    try:
        return copy_durably(tape, layout.disk(rel), throttle, stopping), None
    except OSError as exc:
        return None, f"staging failed: {exc.strerror or exc}"


def release_one(layout: Layout, rel: str) -> tuple[str, str | None]:
    """Free the disk copy, archiving it first if tape has none: (result, error text)."""
    where = layout.presence(rel)
    if not where.exists:
        return "unknown", None
    if where.disk_size is None:
        return "offline", None
    try:
        if where.tape_size is None:
            copy_durably(layout.disk(rel), layout.on_tape(rel))
        os.unlink(layout.disk(rel))
    except OSError as exc:
        return "error", f"release failed: {exc.strerror or exc}"
    return "released", None
