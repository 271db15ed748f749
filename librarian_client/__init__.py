"""Python client for a Librarian data-catalogue server, and the ``librarian`` CLI.

Importing this package has no side effects: nothing is read from the
environment or the config file until a client is built.
"""

from librarian_client._io import ProgressCallback
from librarian_client._upload import UploadResult
from librarian_client.client import LibrarianClient
from librarian_client.config import Connection, load_config, resolve_connection, save_connection
from librarian_client.exceptions import (
    AlreadyExists,
    AuthenticationError,
    BadRequest,
    BodyTooLarge,
    ChecksumMismatch,
    ConfigError,
    Conflict,
    CopyFailedVerification,
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
