"""Downloading many files: where each goes, what is already there, and parallel fetches.

A tree download is planned before any byte moves: every server name is checked to
be a safe relative path (so a hostile or buggy server cannot write outside the
target directory), and every local file already there is hashed. A file that
matches is skipped (so an interrupted download resumes where it stopped); one that
differs is left alone unless overwriting was asked for. Then the files are fetched,
``transfers`` at a time, each into a temp file that is renamed only once verified.
"""

from __future__ import annotations

import os
import threading
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from contextlib import AbstractContextManager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from urllib.parse import quote

import httpx

# ``models.X``, not ``from ... import X``: the package imports a model's module when it
# is first used, so a command that never calls these builds none of their validators.
from librarian_client import models
from librarian_client.checksum import checksum_file, normalise_checksum, parse_checksum
from librarian_client.exceptions import (
    ChecksumMismatch,
    LibrarianClientError,
    ProtocolError,
)
from librarian_client.limits import API_PREFIX as API
from librarian_client.streaming import CHUNK_SIZE, ProgressCallback, progress_or_noop, write_hashing


def name_path(name: str) -> str:
    """Percent-encode each segment; '.'/'..' too, so httpx cannot collapse them."""

    def segment(part: str) -> str:
        return part.replace(".", "%2E") if part in (".", "..") else quote(part, safe="")

    return "/".join(segment(part) for part in unicodedata.normalize("NFC", name).split("/"))


class Action(StrEnum):
    DOWNLOAD = "download"
    SKIP = "skip"  # already there, same size and checksum
    OVERWRITE = "overwrite"  # there and different, and overwriting was asked for
    CONFLICT = "conflict"  # there and different (or not a file): left alone


@dataclass(frozen=True, slots=True)
class Planned:
    """One server file and what a download would do with it."""

    name: str
    path: Path
    size: int
    checksum: str
    action: Action
    why: str = ""


class UnsafeName(ProtocolError):
    """A name from the server would not land inside the target directory."""


def safe_relative(name: str, relative: str) -> list[str]:
    """The path segments of ``relative`` (part of server name ``name``), or UnsafeName.

    Refused: empty, absolute, '.', '..', empty segments, backslashes, NUL and other
    control characters, and segments the local OS would read as a path of its own.
    """
    bad = (
        not relative
        or relative.startswith("/")
        or "\\" in relative
        or any(unicodedata.category(ch) in ("Cc", "Cf", "Cs") for ch in relative)
    )
    segments = relative.split("/")
    if bad or any(s in ("", ".", "..") for s in segments):
        raise UnsafeName(f"The server lists a file named {name!r}, which is not a safe local path.")
    for segment in segments:
        windows_drive = os.name == "nt" and ":" in segment
        if os.sep in segment or (os.altsep and os.altsep in segment) or windows_drive:
            raise UnsafeName(f"The server lists a file named {name!r}, unsafe on this system.")
    return segments


def local_target(root: Path, prefix: str, name: str) -> Path:
    """Where server file ``name`` (below ``prefix``) goes under ``root``."""
    if not name.startswith(prefix):
        raise ProtocolError(f"The server listed {name!r} for the prefix {prefix!r}.")
    return root.joinpath(*safe_relative(name, name[len(prefix) :]))


def classify(summary: models.FileSummary, path: Path, *, force: bool) -> Planned:
    """Compare a local path with the server's file (hashing it when the size matches)."""
    expected = normalise_checksum(summary.checksum)

    def plan(action: Action, why: str = "") -> Planned:
        return Planned(summary.name, path, summary.size, expected, action, why)

    if not os.path.lexists(path):
        return plan(Action.DOWNLOAD)
    if path.is_symlink() or not path.is_file():
        return plan(Action.CONFLICT, "is in the way and is not a regular file")
    if path.stat().st_size == summary.size:
        algorithm, _ = parse_checksum(expected)
        if checksum_file(str(path), algorithm, CHUNK_SIZE) == expected:
            return plan(Action.SKIP, "is already there and verified")
    if force:
        return plan(Action.OVERWRITE, "differs and will be overwritten (--force)")
    return plan(Action.CONFLICT, "differs from the server's file")


def plan_tree(
    files: Iterable[models.FileSummary], prefix: str, root: Path, *, force: bool
) -> list[Planned]:
    """Every file below ``prefix`` and what to do with it; names checked before any I/O."""
    targets = [(summary, local_target(root, prefix, summary.name)) for summary in files]
    # A name that is both a file and a directory ("a" and "a/b") cannot both land.
    parents = {parent for _, path in targets for parent in path.parents}
    planned = []
    for summary, path in targets:
        if path in parents:
            expected = normalise_checksum(summary.checksum)
            why = "is also a directory of other files here"
            planned.append(
                Planned(summary.name, path, summary.size, expected, Action.CONFLICT, why)
            )
        else:
            planned.append(classify(summary, path, force=force))
    return planned


Fetch = Callable[[str, Path, int, str, ProgressCallback], None]


class _Stopped(Exception):
    """Another download failed, or Ctrl-C: stop at the next chunk."""


def fetch_all(
    fetch: Fetch, planned: list[Planned], progress: ProgressCallback, transfers: int
) -> Iterator[Planned]:
    """Fetch ``planned`` files, ``transfers`` at a time; yield each once it is in place.

    The first failure (or Ctrl-C) stops the others at their next chunk; their temp
    files are removed, and files already in place stay (a rerun skips them).
    """
    stop = threading.Event()

    def report(nbytes: int, nfiles: int) -> None:
        if stop.is_set():
            raise _Stopped()
        progress(nbytes, nfiles)

    def one(p: Planned) -> Planned:
        p.path.parent.mkdir(parents=True, exist_ok=True)
        fetch(p.name, p.path, p.size, p.checksum, report)
        return p

    if transfers <= 1 or len(planned) <= 1:
        for p in planned:
            yield one(p)
        return
    pool = ThreadPoolExecutor(transfers, thread_name_prefix="librarian-download")
    try:
        futures: list[Future[Planned]] = [pool.submit(one, p) for p in planned]
        for future in as_completed(futures):
            yield future.result()
    finally:
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)


def conflicts_error(conflicts: list[Planned]) -> LibrarianClientError:
    shown = ", ".join(f"{c.path} {c.why}" for c in conflicts[:3])
    more = f" and {len(conflicts) - 3} more" if len(conflicts) > 3 else ""
    return LibrarianClientError(
        f"{len(conflicts)} local file{'' if len(conflicts) == 1 else 's'} in the way: "
        f"{shown}{more}. Nothing was downloaded.",
        "Pass --force to overwrite files that differ, or download into another directory.",
    )


class DownloadMixin:
    """``LibrarianClient``'s downloads: one verified fetch, and whole trees."""

    def _stream(self, method: str, path: str) -> AbstractContextManager[httpx.Response]:
        raise NotImplementedError

    def search(self, *, prefix: str | None = None) -> Iterator[models.FileSummary]:
        raise NotImplementedError

    def plan_download(
        self, prefix: str, local: str | os.PathLike[str], *, force: bool = False
    ) -> list[Planned]:
        """What ``download_tree`` would do with each file below ``prefix``; changes nothing."""
        return plan_tree(self.search(prefix=prefix or None), prefix, Path(local), force=force)

    def download_tree(
        self,
        prefix: str,
        local: str | os.PathLike[str],
        *,
        force: bool = False,
        transfers: int = 1,
        progress: ProgressCallback | None = None,
    ) -> list[Planned]:
        """Download every file below ``prefix`` into directory ``local``, verified.

        Files already there with the same checksum are skipped, so a rerun resumes.
        A local file that differs raises before anything is fetched, unless ``force``.
        Returns the plan (``action`` says what was done to each file).
        """
        planned = self.plan_download(prefix, local, force=force)
        conflicts = [p for p in planned if p.action is Action.CONFLICT]
        if conflicts:
            raise conflicts_error(conflicts)
        report = progress_or_noop(progress)
        for p in planned:
            if p.action is Action.SKIP:
                report(p.size, 1)
        wanted = [p for p in planned if p.action in (Action.DOWNLOAD, Action.OVERWRITE)]
        for _ in fetch_all(self.fetch, wanted, report, transfers):
            pass
        return planned

    def fetch(
        self, name: str, target: Path, size: int, checksum: str, progress: ProgressCallback
    ) -> None:
        """Stream ``name`` to a temp file beside ``target``; rename it there once verified."""
        expected = normalise_checksum(checksum)
        algorithm, _ = parse_checksum(expected)
        path = f"{API}/download/{name_path(name)}"
        with self._stream("GET", path) as response:
            announced = response.headers.get("X-Librarian-Checksum")
            if announced and normalise_checksum(announced) != expected:
                raise ChecksumMismatch(
                    f"The server sends {name} with checksum {announced} but the catalogue "
                    f"says {expected}."
                )
            temp, got_size, got = write_hashing(
                response.iter_bytes(CHUNK_SIZE), target, algorithm, progress
            )
        if got_size != size or got != expected:
            temp.unlink(missing_ok=True)
            raise ChecksumMismatch(
                f"Downloaded {name} does not verify: got {got_size} bytes, {got}; "
                f"expected {size} bytes, {expected}. Nothing was written to {target}."
            )
        try:
            os.replace(temp, target)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        progress(0, 1)
