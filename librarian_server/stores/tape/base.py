"""The tape system interface a cold store talks to.

A tape system (an HSM such as Versity ScoutAM behind its REST API) keeps a file's
bytes on tape and, while the file is *online*, on a disk cache that is the
filesystem the cold store's root lies on. Reading an offline file means asking the
tape system to stage it and waiting: seconds to hours. Paths are the tape system's
own names for files (absolute paths on its filesystem).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel


class TapeError(OSError):
    """The tape system could not be reached or refused a request."""


class TapeFileState(BaseModel):
    path: str
    exists: bool = True
    size: int | None = None
    online_blocks: int = 0
    offline_blocks: int = 0
    archived: bool = False
    """A copy is on tape (so the disk copy may be released)."""
    staging: bool = False
    """A stage request for it is queued or running."""

    @property
    def online(self) -> bool:
        """Readable from the disk cache now: no block is only on tape."""
        return self.exists and self.offline_blocks == 0


class CacheState(BaseModel):
    capacity_bytes: int
    used_bytes: int
    free_bytes: int
    healthy: bool
    detail: str = ""


class StageEvent(BaseModel):
    """What a tape system announces on the bus when a stage request ends, one message
    per file: JSON of this model on subject ``<prefix>.staged`` or ``<prefix>.error``."""

    path: str
    status: Literal["staged", "error"]
    size: int | None = None
    error: str | None = None


class TapeSystem(ABC):
    """One tape system, as a cold store uses it. Thread-safe; every call may raise
    TapeError."""

    max_batch: int = 10_000
    """The most paths one request may carry; callers split larger lists."""

    @abstractmethod
    def login(self) -> None:
        """Obtain (or renew) the session; the other calls log in by themselves."""

    @abstractmethod
    def stage(self, paths: Sequence[str]) -> None:
        """Ask for these files to be brought onto the disk cache. Returns once the
        request is accepted; each file is announced (on the bus) or seen online by
        ``status`` when it is there. A request may be lost: ask again later."""

    @abstractmethod
    def status(self, paths: Sequence[str]) -> dict[str, TapeFileState]:
        """The state of each path (unknown paths have ``exists`` False)."""

    @abstractmethod
    def cancel(self, paths: Sequence[str]) -> None:
        """Withdraw stage requests for these files (those already staged stay)."""

    @abstractmethod
    def release(self, paths: Sequence[str]) -> None:
        """Free the disk cache's copies of these files, archiving them first if they
        are not yet on tape; they become offline."""

    @abstractmethod
    def cache_state(self) -> CacheState:
        """The disk cache's capacity, use and health."""

    def close(self) -> None:
        """Release connections; a no-op where there are none."""
        return None
