"""The client's exception tree.

Callers catch one base class (``LibrarianClientError``) or a precise subclass
chosen by HTTP status; every exception carries the server's ``reason`` and
``suggested_remedy`` so that a CLI or a pipeline log can show one useful line.
"""

from __future__ import annotations

import json
from typing import ClassVar

import httpx

from librarian_client.models import ErrorResponse

__all__ = [
    "AlreadyExists",
    "AuthenticationError",
    "BadRequest",
    "ChecksumMismatch",
    "ConfigError",
    "LibrarianClientError",
    "LibrarianConnectionError",
    "LibrarianHTTPError",
    "LibrarianTimeoutError",
    "LocalFileChanged",
    "NotFound",
    "PermissionDenied",
    "ProtocolError",
    "RangeNotSatisfiable",
    "ServerError",
    "VerificationFailed",
    "InsufficientStorage",
    "error_from_response",
]


def _one_line(text: str) -> str:
    return " ".join(text.split())


class LibrarianClientError(Exception):
    """Base of every error the client raises on purpose."""

    default_remedy: ClassVar[str] = ""

    def __init__(self, reason: str, suggested_remedy: str | None = None) -> None:
        self.reason = _one_line(reason)
        remedy = self.default_remedy if suggested_remedy is None else suggested_remedy
        self.suggested_remedy = _one_line(remedy)
        super().__init__(self.reason)

    def __str__(self) -> str:
        if self.suggested_remedy:
            return f"{self.reason} ({self.suggested_remedy})"
        return self.reason


class ConfigError(LibrarianClientError):
    """The client configuration is missing, unreadable or inconsistent."""

    default_remedy = (
        "Run `librarian connections add NAME URL ...`, set LIBRARIAN_URL, or pass --url."
    )


class LibrarianConnectionError(LibrarianClientError):
    """The server could not be reached (refused, DNS, TLS, reset)."""

    default_remedy = "Check the server URL and that the server is running."


class LibrarianTimeoutError(LibrarianClientError):
    """The server did not answer within the configured timeout."""

    default_remedy = "Try again, or raise the timeout (--timeout / timeout=)."


class ProtocolError(LibrarianClientError):
    """The server answered something outside the contract (wrong schema, missing fields)."""

    default_remedy = "The client and server versions may not match; upgrade the older one."


class ChecksumMismatch(LibrarianClientError):
    """Downloaded bytes do not match the catalogue's size or checksum; nothing was kept."""

    default_remedy = "Download again; if it persists, report the file to the site's admin."


class LocalFileChanged(LibrarianClientError):
    """A local file changed size while it was being uploaded."""

    default_remedy = "Upload the file again once nothing is writing to it."


class LibrarianHTTPError(LibrarianClientError):
    """The server answered with an error status and an ``ErrorResponse`` body."""

    status_code: int = 0

    def __init__(
        self,
        status_code: int,
        reason: str,
        suggested_remedy: str | None = None,
        *,
        error: str | None = None,
    ) -> None:
        self.status_code = status_code
        self.error = error
        super().__init__(reason, suggested_remedy)


class BadRequest(LibrarianHTTPError):
    status_code = 400


class AuthenticationError(LibrarianHTTPError):
    status_code = 401
    default_remedy = "Check the username/password or token (see `librarian connections`)."


class PermissionDenied(LibrarianHTTPError):
    status_code = 403


class NotFound(LibrarianHTTPError):
    status_code = 404


class AlreadyExists(LibrarianHTTPError):
    status_code = 409
    default_remedy = "Files are immutable: upload under a new name."


class RangeNotSatisfiable(LibrarianHTTPError):
    status_code = 416


class VerificationFailed(LibrarianHTTPError):
    status_code = 422
    default_remedy = "Check the local file and upload it again."


class InsufficientStorage(LibrarianHTTPError):
    status_code = 507


class ServerError(LibrarianHTTPError):
    """Any other 5xx: a server bug or an overloaded proxy."""

    status_code = 500
    default_remedy = "Try again later; report it to the site's admin if it persists."


_BY_STATUS: dict[int, type[LibrarianHTTPError]] = {
    cls.status_code: cls
    for cls in (
        BadRequest,
        AuthenticationError,
        PermissionDenied,
        NotFound,
        AlreadyExists,
        RangeNotSatisfiable,
        VerificationFailed,
        InsufficientStorage,
    )
}


def error_class_for(status_code: int) -> type[LibrarianHTTPError]:
    if status_code in _BY_STATUS:
        return _BY_STATUS[status_code]
    if status_code >= 500:
        return ServerError
    return LibrarianHTTPError


def error_from_response(response: httpx.Response) -> LibrarianHTTPError:
    """Build the typed exception for an error response (whose body must already be read).

    A body that is not an ``ErrorResponse`` (a proxy's HTML page, say) still gives a
    readable message naming the status and URL.
    """
    status = response.status_code
    cls = error_class_for(status)
    try:
        body = ErrorResponse.model_validate(json.loads(response.content))
    except (ValueError, TypeError):
        phrase = response.reason_phrase or "error"
        return cls(
            status,
            f"HTTP {status} {phrase} from {response.request.method} {response.request.url}",
        )
    return cls(status, body.reason, body.suggested_remedy or None, error=body.error)
