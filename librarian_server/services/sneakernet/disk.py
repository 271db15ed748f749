"""The self-describing disk: a versioned manifest and the files in a hashed layout.

One export is one directory on the disk::

    librarian-<label>/manifest.jsonl     header line, one line per file, an end line
    librarian-<label>/files/ab/cd/<hash> the bytes, named by the SHA-256 of the file's name

The manifest is append-only JSON lines. A file's line is appended (and fsynced)
only after its bytes were written, fsynced, and read back from the disk with the
right checksum, so whatever kills an export, the manifest lists whole, verified
files only; a torn last line is ignored when reading. The end line says how the
export stopped. Given a key, every line is signed as it is written, and a reader
reports the first line whose signature fails (signing.py). Nothing here touches the
database.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, Any, BinaryIO, Literal

from pydantic import BaseModel, ValidationError

from librarian_client.checksum import checksum_file, format_checksum, new_hasher, parse_checksum
from librarian_server.services.sneakernet.signing import SIG, DiskKeySpec, sign, verifies

FORMAT: Literal["librarian-disk"] = "librarian-disk"
VERSION = 1
MANIFEST = "manifest.jsonl"
PREFIX = "librarian-"
CHUNK = 4 << 20
_DONTNEED = getattr(os, "POSIX_FADV_DONTNEED", None)


class DiskHeader(BaseModel):
    format: Literal["librarian-disk"] = FORMAT
    version: int = VERSION
    label: str
    source: str
    destination: str
    created_time: datetime
    key: DiskKeySpec | None = None  # absent: an unsigned disk


class DiskEntry(BaseModel):
    name: str
    size: int
    checksum: str
    transfer_id: int
    path: str
    origin: str
    uploader: str


class DiskEnd(BaseModel):
    end: Literal[True] = True
    files: int
    bytes: int
    stopped: str
    finished_time: datetime


class DiskFull(OSError):
    """No room left on the disk for the next file."""


class DiskFormatError(ValueError):
    """Not a Librarian disk, or one written by a newer version."""


def layout_path(name: str) -> str:
    digest = hashlib.sha256(name.encode()).hexdigest()
    return f"files/{digest[:2]}/{digest[2:4]}/{digest[4:]}"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class DiskWriter:
    """Writes one export directory; every method leaves the disk consistent."""

    def __init__(self, root: Path, header: DiskHeader, key: bytes | None = None) -> None:
        """``key`` signs every line (see signing.py); without it the disk is unsigned."""
        self.key = key
        self.directory = root / f"{PREFIX}{header.label}"
        self.directory.mkdir()
        self.files = self.bytes = 0
        self.listed_ids: set[int] = set()
        self._manifest: IO[str] = open(self.directory / MANIFEST, "x", encoding="utf-8")
        self._append([header])
        _fsync_dir(self.directory)
        _fsync_dir(root)

    def _line(self, model: BaseModel) -> str:
        record = model.model_dump(mode="json", exclude_none=True)
        if self.key is not None:
            record = sign(self.key, record)
        return json.dumps(record, ensure_ascii=False, separators=(",", ":"))

    def _append(self, models: list[BaseModel]) -> None:
        self._manifest.write("".join(self._line(m) + "\n" for m in models))
        self._manifest.flush()
        os.fsync(self._manifest.fileno())

    def copy_in(
        self,
        source: Callable[[], BinaryIO],
        name: str,
        size: int,
        checksum: str,
        progress: Callable[[int], None],
    ) -> str:
        """Copy one file onto the disk and verify what landed there; return its path.

        Raises DiskFull when the disk fills, and ValueError when the source or the copy
        does not match ``checksum``; whatever goes wrong, no partial file is left.
        """
        relative = layout_path(name)
        target = self.directory / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        algorithm = parse_checksum(checksum)[0]
        hasher = new_hasher(algorithm)
        try:
            with source() as src, open(target, "xb") as dst:
                while chunk := src.read(CHUNK):
                    hasher.update(chunk)
                    dst.write(chunk)
                    progress(len(chunk))
                dst.flush()
                os.fsync(dst.fileno())
                if _DONTNEED is not None:  # read back from the disk, not from memory
                    os.posix_fadvise(dst.fileno(), 0, 0, _DONTNEED)
        except BaseException as exc:  # a full disk, a read error, or a request to stop
            target.unlink(missing_ok=True)
            if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise DiskFull(exc.errno, "the disk is full", str(target)) from None
            raise
        read = format_checksum(algorithm, hasher.hexdigest())
        if read != checksum:
            target.unlink(missing_ok=True)
            raise ValueError(f"this site's copy hashes to {read}, not {checksum}")
        written = checksum_file(str(target), algorithm)
        if written != checksum or target.stat().st_size != size:
            target.unlink(missing_ok=True)
            raise ValueError(f"the copy on the disk reads back as {written}, not {checksum}")
        return relative

    def list(self, entries: list[DiskEntry]) -> None:
        """Add written files to the manifest: from now on they are on the disk."""
        if entries:
            self._append(list(entries))
            self.files += len(entries)
            self.bytes += sum(e.size for e in entries)
            self.listed_ids.update(e.transfer_id for e in entries)

    def finish(self, stopped: str, now: datetime) -> None:
        end = DiskEnd(files=self.files, bytes=self.bytes, stopped=stopped, finished_time=now)
        self._append([end])
        self._manifest.close()


class DiskReader:
    """Reads one export directory written by DiskWriter (or a killed one)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        try:
            with open(directory / MANIFEST, encoding="utf-8") as handle:
                first = handle.readline()
        except (FileNotFoundError, UnicodeDecodeError):
            raise DiskFormatError(f"{directory} holds no readable {MANIFEST}") from None
        try:
            raw = json.loads(first)
        except json.JSONDecodeError:
            raise DiskFormatError(f"{directory / MANIFEST} does not start with a header") from None
        if not isinstance(raw, dict) or raw.get("format") != FORMAT:
            raise DiskFormatError(f"{directory / MANIFEST} is not a Librarian disk manifest")
        if raw.get("version") != VERSION:
            raise DiskFormatError(
                f"{directory / MANIFEST} has format version {raw.get('version')}; this "
                f"Librarian reads version {VERSION}"
            )
        try:
            self.header = DiskHeader.model_validate(raw)
        except ValidationError as exc:
            raise DiskFormatError(f"{directory / MANIFEST} has a damaged header: {exc}") from None
        self.raw_header: dict[str, object] = raw
        self.end: DiskEnd | None = None

    @property
    def signed(self) -> bool:
        return self.header.key is not None or SIG in self.raw_header

    @staticmethod
    def find(path: Path) -> list[Path]:
        """The export directories at ``path``: itself, or those directly below it."""
        if (path / MANIFEST).is_file():
            return [path]
        return sorted(
            p for p in path.iterdir() if p.name.startswith(PREFIX) and (p / MANIFEST).is_file()
        )

    def _records(self) -> Iterator[tuple[int, dict[str, Any]]]:
        """(line number, object) of every whole line after the header; a torn last line
        (an export killed mid-write) or one that is not a JSON object is skipped."""
        with open(self.directory / MANIFEST, encoding="utf-8") as handle:
            handle.readline()
            for number, line in enumerate(handle, start=2):
                if not line.endswith("\n"):
                    return  # torn: the export stopped while writing it
                try:
                    raw = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(raw, dict):
                    yield number, raw

    def listed(self, key: bytes | None = None) -> tuple[list[DiskEntry], str | None]:
        """Every file line; and, given the disk's key, why the manifest fails its
        signatures (the first line that does not verify), or None if every line does."""
        problem = None
        if key is not None and not verifies(key, self.raw_header):
            problem = "its header (line 1) does not match its signature"
        entries: list[DiskEntry] = []
        for number, raw in self._records():
            if key is not None and problem is None and not verifies(key, raw):
                what = repr(raw["name"]) if isinstance(raw.get("name"), str) else "a record"
                problem = f"line {number} ({what}) does not match its signature"
            try:
                if raw.get("end") is True:
                    self.end = DiskEnd.model_validate(raw)
                else:
                    entries.append(DiskEntry.model_validate(raw))
            except ValidationError:
                continue
        return entries, problem

    def entries(self) -> Iterator[DiskEntry]:
        """Every file line, unverified; a torn or damaged line is skipped."""
        yield from self.listed()[0]

    def path_of(self, entry: DiskEntry) -> Path:
        """Where the entry's bytes are; refuses a path that leaves the export directory."""
        target = (self.directory / entry.path).resolve()
        if not target.is_relative_to(self.directory.resolve()):
            raise ValueError(f"{entry.path!r} points outside the export directory")
        return target
