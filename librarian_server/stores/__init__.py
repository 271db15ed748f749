"""Store backends (POSIX now; a cold tier later)."""

from .base import StoreBackend
from .posix import PosixStore
from .registry import backend_for

__all__ = ["PosixStore", "StoreBackend", "backend_for"]
