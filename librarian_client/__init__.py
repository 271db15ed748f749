"""Python client for a Librarian data-catalogue server, and the ``librarian`` CLI.

Importing this package has no side effects: nothing is read from the
environment or the config file until a client is built. Nor is anything
imported until it is used: every ``librarian`` command imports this package
first, and ``librarian --help`` should not pay for httpx and the wire models.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from librarian_client._upload import UploadResult
    from librarian_client.client import LibrarianClient
    from librarian_client.config import (
        Connection,
        load_config,
        resolve_connection,
        save_connection,
    )
    from librarian_client.exceptions import (
        AlreadyExists,
        AuthenticationError,
        BadRequest,
        BodyTooLarge,
        ChecksumMismatch,
        ConfigError,
        Conflict,
        CopyFailedVerification,
        FileOffline,
        InsufficientStorage,
        LibrarianClientError,
        LibrarianConnectionError,
        LibrarianHTTPError,
        LibrarianTimeoutError,
        LocalFileChanged,
        NotFound,
        PeerError,
        PermissionDenied,
        ProtocolError,
        RangeNotSatisfiable,
        ServerError,
        ServiceUnavailable,
        TooManyAttempts,
        TransferRunning,
        VerificationFailed,
    )
    from librarian_client.streaming import ProgressCallback

__all__ = [
    "AlreadyExists",
    "AuthenticationError",
    "BadRequest",
    "BodyTooLarge",
    "ChecksumMismatch",
    "ConfigError",
    "Conflict",
    "Connection",
    "CopyFailedVerification",
    "FileOffline",
    "InsufficientStorage",
    "LibrarianClient",
    "LibrarianClientError",
    "LibrarianConnectionError",
    "LibrarianHTTPError",
    "LibrarianTimeoutError",
    "LocalFileChanged",
    "NotFound",
    "PeerError",
    "PermissionDenied",
    "ProgressCallback",
    "ProtocolError",
    "RangeNotSatisfiable",
    "ServerError",
    "ServiceUnavailable",
    "TooManyAttempts",
    "TransferRunning",
    "UploadResult",
    "VerificationFailed",
    "load_config",
    "resolve_connection",
    "save_connection",
]

_HOMES = {
    "ProgressCallback": "streaming",
    "UploadResult": "_upload",
    "LibrarianClient": "client",
    "Connection": "config",
    "load_config": "config",
    "resolve_connection": "config",
    "save_connection": "config",
}


def __getattr__(name: str) -> Any:
    """Import a public name's module on first use (PEP 562); exceptions are the default home."""
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(f"{__name__}.{_HOMES.get(name, 'exceptions')}")
    value = getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
