"""Python client for a Librarian data-catalogue server, and the ``librarian`` CLI.

Importing this package has no side effects: nothing is read from the
environment or the config file until a client is built.
"""

from ._io import ProgressCallback
from ._upload import UploadResult
from .client import LibrarianClient
from .config import Connection, load_config, resolve_connection, save_connection
from .exceptions import (
    AlreadyExists,
    AuthenticationError,
    BadRequest,
    ChecksumMismatch,
    ConfigError,
    InsufficientStorage,
    LibrarianClientError,
    LibrarianConnectionError,
    LibrarianHTTPError,
    LibrarianTimeoutError,
    LocalFileChanged,
    NotFound,
    PermissionDenied,
    ProtocolError,
    RangeNotSatisfiable,
    ServerError,
    VerificationFailed,
)

__all__ = [
    "AlreadyExists",
    "AuthenticationError",
    "BadRequest",
    "ChecksumMismatch",
    "ConfigError",
    "Connection",
    "InsufficientStorage",
    "LibrarianClient",
    "LibrarianClientError",
    "LibrarianConnectionError",
    "LibrarianHTTPError",
    "LibrarianTimeoutError",
    "LocalFileChanged",
    "NotFound",
    "PermissionDenied",
    "ProgressCallback",
    "ProtocolError",
    "RangeNotSatisfiable",
    "ServerError",
    "UploadResult",
    "VerificationFailed",
    "load_config",
    "resolve_connection",
    "save_connection",
]
