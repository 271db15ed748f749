"""The store interface: where bytes live. Stores never touch the database."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import BinaryIO


class StoreBackend(ABC):
    """One place bytes live, with a staging area on the same filesystem."""

    uuid: str

    @abstractmethod
    def path_for(self, name: str) -> str:
        """Store-relative path a committed file of this name gets."""

    @abstractmethod
    def create_staging(self) -> Path:
        """Make a private, empty, uniquely named staging directory for one transfer."""

    @abstractmethod
    def staged_file(self, staging_dir: Path) -> Path:
        """Where a transfer's bytes sit while staged."""

    @abstractmethod
    def discard_staging(self, staging_dir: Path) -> None:
        """Remove a staging directory and anything in it; missing is fine."""

    def commit(self, staging_dir: Path, store_path: str) -> None:
        """Move staged bytes into place atomically; never overwrite an existing file."""
        self.commit_many([(staging_dir, store_path)])

    @abstractmethod
    def commit_many(self, moves: list[tuple[Path, str]]) -> list[tuple[Path, str]]:
        """Commit several (staging dir, store path) pairs and make them durable.

        On failure the ones already moved are moved back before raising. The (now
        empty) staging directories stay until ``discard_staging``.
        """

    @abstractmethod
    def uncommit(self, store_path: str, staging_dir: Path) -> None:
        """Move committed bytes back to staging when the database transaction failed."""

    @abstractmethod
    def open(self, store_path: str) -> BinaryIO: ...

    @abstractmethod
    def exists(self, store_path: str) -> bool: ...

    @abstractmethod
    def delete(self, store_path: str) -> None: ...

    @abstractmethod
    def size_of(self, store_path: str) -> int: ...

    @abstractmethod
    def free_bytes(self) -> int:
        """Free space on the store's filesystem."""

    @abstractmethod
    def staging_dirs(self) -> list[Path]:
        """Every staging directory present, for orphan clean-up."""

    @property
    @abstractmethod
    def marker_path(self) -> Path:
        """A file holding ``uuid``: a client that can read it shares our filesystem."""

    @abstractmethod
    def local_path(self, store_path: str) -> Path: ...
