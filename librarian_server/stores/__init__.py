"""Store backends: a POSIX directory, an S3 bucket or a cold (tape) store, behind one interface."""

from librarian_server.stores.base import StoreBackend, open_size
from librarian_server.stores.cold import ColdStore
from librarian_server.stores.posix import PosixStore
from librarian_server.stores.registry import backend_for
from librarian_server.stores.s3 import S3Store

__all__ = ["ColdStore", "PosixStore", "S3Store", "StoreBackend", "backend_for", "open_size"]
