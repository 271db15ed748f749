"""Sending and receiving file bytes: every byte is read once, hashed and counted on the way.

Public because a server sends files to its peers exactly as a user's client uploads
them (the same readers, bundles and copies), so the streaming rules (1 MiB chunks,
constant memory, temp file + rename, small files in bundles) are in one small place.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import BinaryIO, TypeVar

# ``models.X``, not ``from ... import X``: the package imports a model's module when it
# is first used, so a command that never calls these builds none of their validators.
from librarian_client import models
from librarian_client.checksum import format_checksum, new_hasher
from librarian_client.exceptions import LocalFileChanged

CHUNK_SIZE = 1 << 20
# Files up to this size travel in bundles (one request for many files): per-request
# overhead, not bandwidth, is what limits small-file transfers.
BUNDLE_FILE_MAX = CHUNK_SIZE
BUNDLE_MAX_FILES = 1000
BUNDLE_MAX_BYTES = 64 << 20

T = TypeVar("T")

ProgressCallback = Callable[[int, int], None]
"""``progress(nbytes_delta, files_done_delta)``: called as bytes move and files finish.

``nbytes_delta`` is negative once if a local copy fails part-way and its bytes
are sent again over HTTP, so the running total stays true.
"""


def _no_progress(nbytes: int, nfiles: int) -> None:
    """Default callback, so the hot loops never test for None."""


def progress_or_noop(progress: ProgressCallback | None) -> ProgressCallback:
    return _no_progress if progress is None else progress


class HashingReader:
    """Yields exactly ``size`` bytes of an open file, hashing them; complains if it changed.

    Used as an httpx request body (a re-iterable with a known Content-Length), so
    the file is read once and the checksum is ready when the PUT returns.
    """

    def __init__(
        self,
        handle: BinaryIO,
        path: str,
        size: int,
        algorithm: str,
        progress: ProgressCallback,
    ) -> None:
        self._handle = handle
        self._path = path
        self._size = size
        self._algorithm = algorithm
        self._hasher = new_hasher(algorithm)
        self._progress = progress
        self._start = 0
        self.bytes_read = 0

    def skip_held(self, offset: int) -> None:
        """Resume: hash the first ``offset`` bytes (the server holds them) without sending.

        The checksum then still covers the whole file, so the server's and ours
        agree only if the part it holds is the part we have.
        """
        left = offset
        while left:
            chunk = self._handle.read(min(CHUNK_SIZE, left))
            if not chunk:
                raise self._changed(offset - left)
            self._hasher.update(chunk)
            left -= len(chunk)
        self._start = self.bytes_read = offset
        self._progress(offset, 0)

    def read_all_small(self) -> bytes:
        """Read a file of at most one chunk in one go (much cheaper for httpx to send)."""
        data = self._handle.read(self._size + 1)
        if len(data) != self._size:
            raise self._changed(len(data))
        self._hasher.update(data)
        self.bytes_read = len(data)
        self._progress(len(data), 0)
        return data

    def __iter__(self) -> Iterator[bytes]:
        remaining = self._size - self._start
        while remaining:
            chunk = self._handle.read(min(CHUNK_SIZE, remaining))
            if not chunk:
                raise self._changed(self._size - remaining)
            self._hasher.update(chunk)
            remaining -= len(chunk)
            self.bytes_read += len(chunk)
            self._progress(len(chunk), 0)
            yield chunk
        if self._handle.read(1):
            raise self._changed(self._size + 1)

    def _changed(self, seen: int) -> LocalFileChanged:
        more_or_less = "grew" if seen > self._size else "shrank"
        return LocalFileChanged(
            f"{self._path} {more_or_less} while being read (was {self._size} bytes)."
        )

    @property
    def checksum(self) -> str:
        return format_checksum(self._algorithm, self._hasher.hexdigest())


def octet_headers(length: int) -> dict[str, str]:
    return {"Content-Length": str(length), "Content-Type": "application/octet-stream"}


def file_body(reader: HashingReader, size: int) -> bytes | HashingReader:
    """A request body for one file: a small one whole (much cheaper for httpx to send),
    a large one streamed chunk by chunk."""
    return reader.read_all_small() if size <= CHUNK_SIZE else reader


def bundles(entries: list[T], size: Callable[[T], int]) -> Iterator[list[T]]:
    """Group small files into bundles of at most BUNDLE_MAX_FILES / BUNDLE_MAX_BYTES."""
    group: list[T] = []
    total = 0
    for entry in entries:
        if group and (len(group) >= BUNDLE_MAX_FILES or total + size(entry) > BUNDLE_MAX_BYTES):
            yield group
            group, total = [], 0
        group.append(entry)
        total += size(entry)
    if group:
        yield group


def bundle_body(
    transfer_ids: list[int],
    files: list[tuple[str | Callable[[], BinaryIO], int, Callable[[BinaryIO], HashingReader]]],
) -> tuple[Iterator[bytes], dict[str, str]]:
    """The body of a bundle request (a JSON header line, then each file's bytes) and its
    headers. ``files`` are (path or opener, size, reader for the open file): each file is
    opened, read whole and hashed only as the body is sent."""
    head = models.UploadBundleHeader(transfer_ids=transfer_ids).model_dump_json().encode() + b"\n"

    def pieces() -> Iterator[bytes]:
        yield head
        for source, _, open_reader in files:
            with open(source, "rb") if isinstance(source, str) else source() as handle:
                yield open_reader(handle).read_all_small()

    length = len(head) + sum(size for _, size, _ in files)
    return coalesced(pieces()), octet_headers(length)


COALESCE_BYTES = 256 * 1024


def coalesced(pieces: Iterable[bytes], target: int = COALESCE_BYTES) -> Iterator[bytes]:
    """Join small pieces into writes of about ``target`` bytes (one send per file of a
    bundle of thousands costs more than the bytes do)."""
    pending: list[bytes] = []
    size = 0
    for piece in pieces:
        pending.append(piece)
        size += len(piece)
        if size >= target:
            yield b"".join(pending)
            pending, size = [], 0
    if pending:
        yield b"".join(pending)


def copy_hashing(
    source: str, dest: str, size: int, algorithm: str, progress: ProgressCallback
) -> str:
    """Copy ``source`` to ``dest`` (a store's staging file), returning the checksum.

    On any error the partial destination is removed and the error re-raised, so
    the caller can fall back to an HTTP PUT. No fsync here: the server fsyncs
    when it commits, as it does for bytes that arrive by PUT.
    """
    sent = 0
    try:
        with open(source, "rb") as src, open(dest, "wb") as dst:
            reader = HashingReader(src, source, size, algorithm, progress)
            for chunk in reader:
                dst.write(chunk)
                sent += len(chunk)
        return reader.checksum
    except BaseException:
        progress(-sent, 0)  # those bytes will be sent again over HTTP
        Path(dest).unlink(missing_ok=True)
        raise


def write_hashing(
    chunks: Iterable[bytes], target: Path, algorithm: str, progress: ProgressCallback
) -> tuple[Path, int, str]:
    """Stream ``chunks`` to a new temp file beside ``target``; return (temp, size, checksum).

    The temp file is created with O_EXCL and the default mode (so the umask
    applies as for any new file); it is removed if anything goes wrong.
    """
    temp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.part")
    hasher = new_hasher(algorithm)
    size = 0
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            for chunk in chunks:
                handle.write(chunk)
                hasher.update(chunk)
                size += len(chunk)
                progress(len(chunk), 0)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return temp, size, format_checksum(algorithm, hasher.hexdigest())


def marker_matches(marker: str, uuid: str) -> bool:
    """True when this machine sees the store's marker file: we share its filesystem."""
    try:
        with open(marker, encoding="utf-8") as handle:
            return handle.read(4096).strip() == uuid
    except (OSError, UnicodeDecodeError):
        return False
