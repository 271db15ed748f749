"""Store backends keyed by kind; the one place an ORM Store becomes a backend.

An object store's client is made once per store and options (credentials are read from
their file then) and shared by every thread: clients are thread-safe, and making one
costs tens of milliseconds.
"""

from __future__ import annotations

import json
import threading
from typing import TYPE_CHECKING

from librarian_server.errors import ConfigurationError
from librarian_server.orm import Store, StoreKind
from librarian_server.stores.base import StoreBackend
from librarian_server.stores.posix import PosixStore
from librarian_server.stores.s3 import S3Options, S3Store, make_client

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_clients: dict[tuple[str, str], S3Client] = {}
_lock = threading.Lock()


def s3_options(store: Store) -> S3Options:
    if not store.options:
        raise ConfigurationError(
            f"Store {store.name!r} is an S3 store with no options recorded.",
            "Remove it and add it again with `librarian-server add-store NAME --s3 ...`.",
        )
    return S3Options.model_validate(store.options)


def s3_backend(uuid: str, options: S3Options) -> S3Store:
    key = (uuid, json.dumps(options.model_dump(), sort_keys=True))
    with _lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = make_client(options)
    return S3Store(uuid, options, client)


def forget_clients() -> None:
    """Drop cached clients (a credentials file was changed, or for tests)."""
    with _lock:
        _clients.clear()


def backend_for(store: Store) -> StoreBackend:
    if store.kind is StoreKind.POSIX:
        return PosixStore(store.root, store.uuid)
    if store.kind is StoreKind.S3:
        return s3_backend(store.uuid, s3_options(store))
    raise NotImplementedError(f"store kind {store.kind!r}")
