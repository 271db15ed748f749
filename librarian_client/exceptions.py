"""The client's exception tree.

Callers catch one base class (``LibrarianClientError``) or a precise subclass,
chosen by the server's error code first and by the HTTP status when the code is
missing (an older server) or unknown (a newer one); every exception carries the
server's ``reason``, ``suggested_remedy`` and ``code`` so that a CLI or a pipeline
log can show one useful line.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar

from librarian_client.models.errors import ErrorCode, known_code

if TYPE_CHECKING:
    import httpx

__all__ = [
    "AlreadyExists",
    "AuthenticationError",
    "BadRequest",
    "BodyTooLarge",
    "ChecksumMismatch",
    "ConfigError",
    "Conflict",
    "CopyFailedVerification",
    "LibrarianClientError",
    "LibrarianConnectionError",
    "LibrarianHTTPError",
    "LibrarianTimeoutError",
    "LocalFileChanged",
    "NotFound",
    "PeerError",
    "PermissionDenied",
    "ProtocolError",
    "RangeNotSatisfiable",
    "ServerError",
    "ServiceUnavailable",
    "TooManyAttempts",
    "TransferRunning",
    "VerificationFailed",
    "InsufficientStorage",
    "error_for",
    "error_from_body",
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
    """The server answered with an error status and an ``ErrorResponse`` body.

    ``code`` is the server's error code: an ``ErrorCode``, the raw text of a code this
    client does not know, or None when the server sent none."""

    status_code: int = 0

    def __init__(
        self,
        status_code: int,
        reason: str,
        suggested_remedy: str | None = None,
        *,
        error: str | None = None,
        code: ErrorCode | str | None = None,
    ) -> None:
        self.status_code = status_code
        self.error = error
        self.code = code
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


class Conflict(LibrarianHTTPError):
    """The request conflicts with the server's state; the subclasses say how."""

    status_code = 409


class AlreadyExists(Conflict):
    status_code = 409
    default_remedy = "Files are immutable: upload under a new name."


class TransferRunning(Conflict):
    """A transfer is still under way: unlike a file that exists, asking later may work."""

    default_remedy = "Wait for the transfer to finish, or cancel it first."


class CopyFailedVerification(Conflict):
    """Every copy the site holds of the file is damaged; another site may have one."""

    default_remedy = "Fetch the file from another site that holds it (`librarian info`)."


class FileOffline(Conflict):
    """The site holds the file only on tape: it started staging it (``job``), and the
    bytes can be read once the job is complete."""

    default_remedy = "Stage it (`librarian stage NAME --wait`) and ask again."
    job: str | None = None
    """The staging job's id (the answer's ``X-Librarian-Staging-Job`` header)."""


class BodyTooLarge(LibrarianHTTPError):
    status_code = 413


class RangeNotSatisfiable(LibrarianHTTPError):
    status_code = 416


class VerificationFailed(LibrarianHTTPError):
    status_code = 422
    default_remedy = "Check the local file and upload it again."


class TooManyAttempts(LibrarianHTTPError):
    status_code = 429
    default_remedy = "Wait, then log in with the right credentials."


class InsufficientStorage(LibrarianHTTPError):
    status_code = 507


class ServerError(LibrarianHTTPError):
    """Any other 5xx: a server bug or an overloaded proxy."""

    status_code = 500
    default_remedy = "Try again later; report it to the site's admin if it persists."


class PeerError(ServerError):
    """The server could not get what it needed from another site (down, slow, refusing)."""

    status_code = 502
    default_remedy = "Check the peer site's health, or ask this site's admin to."


class ServiceUnavailable(ServerError):
    status_code = 503
    default_remedy = "Try again in a few seconds."


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

BY_CODE: dict[ErrorCode, type[LibrarianHTTPError]] = {
    ErrorCode.INVALID_REQUEST: BadRequest,
    ErrorCode.INVALID_NAME: BadRequest,
    ErrorCode.VALIDATION_ERROR: BadRequest,
    ErrorCode.AUTHENTICATION_REQUIRED: AuthenticationError,
    ErrorCode.PERMISSION_DENIED: PermissionDenied,
    ErrorCode.NOT_FOUND: NotFound,
    ErrorCode.METHOD_NOT_ALLOWED: LibrarianHTTPError,
    ErrorCode.CONFLICT: Conflict,
    ErrorCode.FILE_EXISTS: AlreadyExists,
    ErrorCode.NAME_CONFLICT: Conflict,
    ErrorCode.LAST_ADMIN: Conflict,
    ErrorCode.ACCOUNT_IN_USE: Conflict,
    ErrorCode.TRANSFER_RUNNING: TransferRunning,
    ErrorCode.TRANSFER_CLOSED: Conflict,
    ErrorCode.FILE_OFFLINE: FileOffline,
    ErrorCode.DELETION_REFUSED: Conflict,
    ErrorCode.COPY_FAILED_VERIFICATION: CopyFailedVerification,
    ErrorCode.BODY_TOO_LARGE: BodyTooLarge,
    ErrorCode.RANGE_NOT_SATISFIABLE: RangeNotSatisfiable,
    ErrorCode.VERIFICATION_FAILED: VerificationFailed,
    ErrorCode.TOO_MANY_ATTEMPTS: TooManyAttempts,
    ErrorCode.INTERNAL_ERROR: ServerError,
    ErrorCode.CONFIGURATION_ERROR: ServerError,
    ErrorCode.PEER_ERROR: PeerError,
    ErrorCode.UNAVAILABLE: ServiceUnavailable,
    ErrorCode.INSUFFICIENT_STORAGE: InsufficientStorage,
}
"""The exception for each code; a code missing here falls back to the status."""


def error_class_for(
    status_code: int, code: ErrorCode | str | None = None
) -> type[LibrarianHTTPError]:
    """By code first: one status covers errors that mean different things (409)."""
    known = known_code(code) if code is not None else None
    if known is not None and known in BY_CODE:
        return BY_CODE[known]
    if status_code in _BY_STATUS:
        return _BY_STATUS[status_code]
    if status_code >= 500:
        return ServerError
    return LibrarianHTTPError


def error_for(
    status_code: int,
    reason: str,
    suggested_remedy: str | None = None,
    *,
    code: ErrorCode | str | None = None,
    error: str | None = None,
) -> LibrarianHTTPError:
    """The typed exception for an error the server described."""
    known = known_code(code) if code is not None else None
    cls = error_class_for(status_code, code)
    return cls(status_code, reason, suggested_remedy, error=error, code=known or code)


def error_from_body(status_code: int, body: object) -> LibrarianHTTPError | None:
    """The exception an error body (decoded JSON) describes; None if it is not one.

    A code this client does not know is kept as text and the status decides the class,
    so a newer server's errors still read well."""
    if not isinstance(body, Mapping):
        return None
    # Only an error pays for pydantic: a command that succeeds (``ping``) never loads it.
    from pydantic import ValidationError

    from librarian_client.models.common import ErrorResponse

    fields = {k: v for k, v in body.items() if k in ErrorResponse.model_fields}
    raw = fields.pop("code", None)
    try:
        parsed = ErrorResponse.model_validate(fields)
    except ValidationError:
        return None
    code = raw if isinstance(raw, str) else None
    return error_for(
        status_code,
        parsed.reason,
        parsed.suggested_remedy or None,
        code=code,
        error=parsed.error,
    )


def error_from_response(response: httpx.Response) -> LibrarianHTTPError:
    """Build the typed exception for an error response (whose body must already be read).

    A body that is not an ``ErrorResponse`` (a proxy's HTML page, say) still gives a
    readable message naming the status and URL.
    """
    status = response.status_code
    try:
        body: object = json.loads(response.content)
    except (ValueError, TypeError):
        body = None
    exc = error_from_body(status, body)
    if isinstance(exc, FileOffline):
        exc.job = response.headers.get("X-Librarian-Staging-Job")
    if exc is None:
        phrase = response.reason_phrase or "error"
        exc = error_class_for(status)(
            status,
            f"HTTP {status} {phrase} from {response.request.method} {response.request.url}",
        )
    return exc
