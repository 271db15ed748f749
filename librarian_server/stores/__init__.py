"""Store backends: a POSIX directory or an S3 bucket, behind one interface."""

from librarian_server.stores.base import StoreBackend, open_size
from librarian_server.stores.posix import PosixStore
from librarian_server.stores.registry import backend_for
from librarian_server.stores.s3 import S3Store

__all__ = ["PosixStore", "S3Store", "StoreBackend", "backend_for", "open_size"]
