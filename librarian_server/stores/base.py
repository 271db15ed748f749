"""The store interface: where bytes live. Stores never touch the database."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import BinaryIO


def open_size(handle: BinaryIO) -> int:
    """The size of what ``open_read`` opened, without another request or stat."""
    size = getattr(handle, "size", None)
    if isinstance(size, int):
        return size
    return os.fstat(handle.fileno()).st_size


class StoreBackend(ABC):
    """One place bytes live: a directory or a bucket, with a local staging area.

    Staging is always a local file (on the store's own filesystem for POSIX, a spool
    directory for an object store) so that every writer hashes and resumes alike;
    everything after commit goes through this interface, so nothing above the stores
    knows which kind it talks to. A missing object is FileNotFoundError and any other
    failure an OSError, whatever the kind.
    """

    uuid: str

    @abstractmethod
    def path_for(self, name: str, unique: str = "") -> str:
        """Store-relative path a committed file of this name gets; ``unique`` varies it."""

    @abstractmethod
    def new_staging_path(self) -> Path:
        """A fresh, unguessable path in the private staging area for one transfer's bytes.

        Nothing is created: the bytes' writer creates the file, so a small file costs
        one create and one rename, not a directory's make and remove as well.
        """

    @abstractmethod
    def discard_staging(self, staging_path: Path) -> None:
        """Remove a transfer's staged bytes; missing is fine."""

    def commit(self, staging_path: Path, store_path: str) -> None:
        """Move staged bytes into place atomically; never overwrite an existing file."""
        self.commit_many([(staging_path, store_path)])

    @abstractmethod
    def commit_many(self, moves: list[tuple[Path, str]]) -> list[tuple[Path, str]]:
        """Commit several (staging path, store path) pairs and make them durable.

        On failure the ones already moved are moved back before raising.
        """

    sends_ahead = False
    """Whether ``send_ahead`` does anything (then ``uncommit`` takes back what it sent)."""

    def send_ahead(self, moves: list[tuple[Path, str]]) -> None:
        """Before the catalogue's transaction: do the slow part of committing these (an
        object store uploads them to their final keys, refusing a key already taken),
        so that ``commit_many`` inside the transaction is quick. On failure nothing it
        stored is left. A no-op where committing is a rename."""
        return None

    def release_staging(self, moves: list[tuple[Path, str]]) -> None:
        """After the catalogue's transaction committed these: staged bytes a commit
        kept (so that ``uncommit`` could restore them) may go. A no-op where commit
        moved them."""
        return None

    @abstractmethod
    def uncommit(self, store_path: str, staging_path: Path) -> None:
        """Move committed bytes back to staging when the database transaction failed."""

    @abstractmethod
    def exists(self, store_path: str) -> bool: ...

    @abstractmethod
    def delete(self, store_path: str) -> None: ...

    @abstractmethod
    def free_bytes(self) -> int:
        """Free space on the store's filesystem."""

    @abstractmethod
    def staging_entries(self) -> list[Path]:
        """Everything in the staging area, for orphan clean-up."""

    @property
    @abstractmethod
    def marker_path(self) -> Path | None:
        """A file holding ``uuid``: a client that can read it shares our filesystem.
        None for a store with no local files (nothing is offered by path)."""

    @abstractmethod
    def local_path(self, store_path: str) -> Path | None:
        """Where a committed file is on this machine's filesystem, if it is on one."""

    @abstractmethod
    def open_read(self, store_path: str, start: int = 0, end: int | None = None) -> BinaryIO:
        """A committed file opened for reading at ``start`` (seekable; ``open_size`` gives
        its size); ``end`` (inclusive) says where reading will stop, so that a store that
        fetches ahead fetches no further.
        Once open, the bytes stay readable even if the file is removed meanwhile on
        POSIX; an object store reads what the object holds at each request."""

    @abstractmethod
    def size_of(self, store_path: str) -> int | None:
        """A committed file's size, None if it is not there."""

    def describe(self, store_path: str) -> str:
        """How to name a committed file in a message to an operator."""
        return store_path

    def check(self) -> None:
        """Raise ConfigurationError if the store cannot be used now (unreachable,
        refused credentials, gone); a no-op where there is nothing to ask."""
        return None

    def abandoned_uploads(self, started_before: datetime) -> int:
        """Remove unfinished uploads begun before ``started_before``; how many went."""
        return 0

    @abstractmethod
    def walk(self, after: str | None = None) -> Iterator[tuple[str, float]]:
        """Every committed entry as (store path, modification time), in store-path order,
        starting after ``after``: an audit's walk resumes where it stopped."""

    @abstractmethod
    def quarantine(self, store_path: str, label: str) -> str:
        """Move bytes aside (never deleting them) where nothing serves them; returns the
        quarantine path, which ``local_quarantine_path`` and ``delete_quarantined`` take."""

    @abstractmethod
    def open_quarantined(self, quarantine_path: str) -> BinaryIO: ...

    @abstractmethod
    def delete_quarantined(self, quarantine_path: str) -> None:
        """Remove quarantined bytes; missing is fine."""

    @abstractmethod
    def adopt(self, quarantine_path: str, store_path: str) -> None:
        """Move quarantined bytes back into place (never over existing bytes)."""
