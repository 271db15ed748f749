"""Store backends (POSIX now; a cold tier later)."""

from librarian_server.stores.base import StoreBackend
from librarian_server.stores.posix import PosixStore
from librarian_server.stores.registry import backend_for

__all__ = ["PosixStore", "StoreBackend", "backend_for"]
