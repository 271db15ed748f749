"""Store backends keyed by kind; the one place an ORM Store becomes a backend."""

from __future__ import annotations

from librarian_server.orm import Store, StoreKind
from librarian_server.stores.base import StoreBackend
from librarian_server.stores.posix import PosixStore


def backend_for(store: Store) -> StoreBackend:
    if store.kind is StoreKind.POSIX:
        return PosixStore(store.root, store.uuid)
    raise NotImplementedError(f"store kind {store.kind!r}")
