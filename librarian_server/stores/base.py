"""The store interface: where bytes live. Stores never touch the database."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path


class StoreBackend(ABC):
    """One place bytes live, with a staging area on the same filesystem."""

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
    def marker_path(self) -> Path:
        """A file holding ``uuid``: a client that can read it shares our filesystem."""

    @abstractmethod
    def local_path(self, store_path: str) -> Path: ...

    @abstractmethod
    def walk(self, after: str | None = None) -> Iterator[tuple[str, float]]:
        """Every committed entry as (store path, modification time), in store-path order,
        starting after ``after``: an audit's walk resumes where it stopped."""

    @abstractmethod
    def quarantine(self, store_path: str, label: str) -> str:
        """Move bytes aside (never deleting them) where nothing serves them; returns the
        quarantine path, which ``local_quarantine_path`` and ``delete_quarantined`` take."""

    @abstractmethod
    def local_quarantine_path(self, quarantine_path: str) -> Path: ...

    @abstractmethod
    def delete_quarantined(self, quarantine_path: str) -> None:
        """Remove quarantined bytes; missing is fine."""

    @abstractmethod
    def adopt(self, quarantine_path: str, store_path: str) -> None:
        """Move quarantined bytes back into place (never over existing bytes)."""
