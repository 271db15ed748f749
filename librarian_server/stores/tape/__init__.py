"""Tape systems behind a cold store: staging files from tape onto a disk cache."""

from librarian_server.stores.tape.base import (
    CacheState,
    StageEvent,
    TapeError,
    TapeFileState,
    TapeSystem,
)

__all__ = ["CacheState", "StageEvent", "TapeError", "TapeFileState", "TapeSystem"]
