"""Store backends keyed by kind; the one place an ORM Store becomes a backend.

An object store's client is made once per store and options (credentials are read from
their file then) and shared by every thread: clients are thread-safe, and making one
costs tens of milliseconds.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from librarian_server.errors import ConfigurationError
from librarian_server.orm import Store, StoreKind
from librarian_server.stores.base import StoreBackend
from librarian_server.stores.cold import ColdOptions, ColdStore
from librarian_server.stores.posix import PosixStore
from librarian_server.stores.s3 import S3Options, S3Store, make_client
from librarian_server.stores.tape import TapeSystem

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_clients: dict[tuple[str, str], S3Client] = {}
_tapes: dict[tuple[str, str], TapeSystem] = {}
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


def cold_options(store: Store) -> ColdOptions:
    if not store.options:
        raise ConfigurationError(
            f"Store {store.name!r} is a cold store with no options recorded.",
            "Remove it and add it again with `librarian-server add-store NAME --cold ...`.",
        )
    return ColdOptions.model_validate(store.options)


def cold_backend(root: str, uuid: str, options: ColdOptions) -> ColdStore:
    """The tape system's client is made once per store and options: it holds the login."""
    from librarian_server.stores.tape.scout import ScoutClient, read_tape_credentials

    key = (uuid, options.model_dump_json())
    with _lock:
        tape = _tapes.get(key)
        if tape is None:
            account, password = read_tape_credentials(Path(options.credentials_file))
            tape = _tapes[key] = ScoutClient(
                options.url,
                account,
                password,
                verify_tls=options.verify_tls,
                timeout=options.timeout_seconds,
            )
    return ColdStore(root, uuid, options, tape)


def cold_backend_for(store: Store) -> ColdStore:
    """The backend of a store the caller knows to be cold."""
    if store.kind is not StoreKind.COLD:
        raise ConfigurationError(f"Store {store.name!r} is not a cold store.")
    return cold_backend(store.root, store.uuid, cold_options(store))


def forget_clients() -> None:
    """Drop cached clients (a credentials file was changed, or for tests)."""
    with _lock:
        _clients.clear()
        tapes = list(_tapes.values())
        _tapes.clear()
    for tape in tapes:
        tape.close()


def backend_for(store: Store) -> StoreBackend:
    if store.kind is StoreKind.POSIX:
        return PosixStore(store.root, store.uuid)
    if store.kind is StoreKind.S3:
        return s3_backend(store.uuid, s3_options(store))
    if store.kind is StoreKind.COLD:
        return cold_backend(store.root, store.uuid, cold_options(store))
    raise NotImplementedError(f"store kind {store.kind!r}")
