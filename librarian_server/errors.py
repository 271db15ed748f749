"""The domain exception tree.

Services raise these; one API handler turns them into an HTTP status and an
``ErrorResponse`` body. Nothing here imports FastAPI, so the CLI and the
background tasks share the same errors.
"""

from __future__ import annotations

from typing import ClassVar

from librarian_client.models.errors import ErrorCode


class LibrarianError(Exception):
    """Each class says what went wrong in its ``code`` (the wire's error vocabulary) and
    how bad in its ``status_code``; two classes that share a status but not a meaning
    have different codes."""

    code: ClassVar[ErrorCode] = ErrorCode.INTERNAL_ERROR
    status_code: int = 500
    reason: str = "Internal error."
    suggested_remedy: str = "Check the server log; report the problem if it persists."

    def __init__(self, reason: str | None = None, suggested_remedy: str | None = None) -> None:
        if reason is not None:
            self.reason = reason
        if suggested_remedy is not None:
            self.suggested_remedy = suggested_remedy
        super().__init__(self.reason)

    def headers(self) -> dict[str, str]:
        """HTTP headers the answer must carry besides the error body."""
        return {}


class InvalidRequest(LibrarianError):
    code = ErrorCode.INVALID_REQUEST
    status_code = 400
    reason = "The request is not valid."
    suggested_remedy = "Correct the request and try again."


class InvalidName(InvalidRequest):
    code = ErrorCode.INVALID_NAME
    suggested_remedy = (
        "Follow the name rule: a relative '/'-separated path, compared in Unicode NFC, with "
        "no empty, '.', '..' or blank part, no part starting or ending with whitespace, and "
        "no backslash, control or format (bidi, zero-width) character, nor any look-alike "
        "of '/' or '.' (such as U+2215, U+FF0F, U+2024)."
    )


class MalformedRequest(InvalidRequest):
    """The request does not fit the API's schema (caught before any route runs)."""

    code = ErrorCode.VALIDATION_ERROR
    suggested_remedy = "Check the request against the API schema at /docs."


class AuthenticationRequired(LibrarianError):
    code = ErrorCode.AUTHENTICATION_REQUIRED
    status_code = 401
    reason = "Authentication is required."
    suggested_remedy = "Supply a username and password (HTTP Basic) or a bearer token."


class PermissionDenied(LibrarianError):
    code = ErrorCode.PERMISSION_DENIED
    status_code = 403
    reason = "You do not have permission to do this."
    suggested_remedy = "Ask an administrator for an account with a higher permission level."


class NotFound(LibrarianError):
    code = ErrorCode.NOT_FOUND
    status_code = 404
    reason = "Not found."
    suggested_remedy = "Check the name; `librarian search` lists what exists."


class MethodNotAllowed(LibrarianError):
    code = ErrorCode.METHOD_NOT_ALLOWED
    status_code = 405
    reason = "Method not allowed."
    suggested_remedy = "Check the URL and method."


class CopyFailedVerification(LibrarianError):
    """Every copy this site holds of a file failed its checksum: serving one would hand
    out damaged bytes as the catalogued file."""

    code = ErrorCode.COPY_FAILED_VERIFICATION
    status_code = 409
    reason = "This site's copies of the file do not match its catalogue checksum."
    suggested_remedy = (
        "Fetch the file from another site that holds it (`librarian info` lists them), or "
        "ask an administrator to restore a good copy."
    )


class FileAlreadyExists(LibrarianError):
    code = ErrorCode.FILE_EXISTS
    status_code = 409
    reason = "A file with this name already exists with different contents."
    suggested_remedy = "Files are immutable: upload under a new name."


class Conflict(LibrarianError):
    code = ErrorCode.CONFLICT
    status_code = 409
    reason = "The request conflicts with the current state."


class FileOffline(Conflict):
    """Only tape copies are left here: the bytes come after a stage, minutes to hours."""

    code = ErrorCode.FILE_OFFLINE
    reason = "The file is on tape only at this site."
    suggested_remedy = "Stage it (`librarian stage NAME --wait`) and ask again."
    retry_after = 30

    def __init__(
        self, reason: str | None = None, suggested_remedy: str | None = None, *, job: str = ""
    ) -> None:
        super().__init__(reason, suggested_remedy)
        self.job = job

    def headers(self) -> dict[str, str]:
        out = {"Retry-After": str(self.retry_after)}
        if self.job:
            out["X-Librarian-Staging-Job"] = self.job
        return out


class LastAdmin(Conflict):
    """Refused so that someone can still administer the site through the API."""

    code = ErrorCode.LAST_ADMIN
    reason = "This would leave the site without an enabled administrator."
    suggested_remedy = "Make another user an admin first (`librarian users update`)."


class AccountInUse(Conflict):
    """A peer site signs in with the account: deleting it would cut that site off."""

    code = ErrorCode.ACCOUNT_IN_USE
    reason = "A peer site still uses this account."
    suggested_remedy = "Remove the peer first (`librarian-server remove-peer NAME`)."


class TransferRunning(Conflict):
    """Refused because a transfer is still under way: asking again later may succeed,
    unlike a file that exists."""

    code = ErrorCode.TRANSFER_RUNNING
    reason = "A transfer is still under way."
    suggested_remedy = "Wait for it to finish, or cancel it first."


class RangeNotSatisfiable(LibrarianError):
    code = ErrorCode.RANGE_NOT_SATISFIABLE
    status_code = 416
    reason = "The requested byte range is not satisfiable."
    suggested_remedy = "Request a range within the file's size."

    def __init__(
        self,
        reason: str | None = None,
        suggested_remedy: str | None = None,
        *,
        size: int | None = None,
    ) -> None:
        super().__init__(reason, suggested_remedy)
        self.size = size

    def headers(self) -> dict[str, str]:
        # RFC 9110 15.5.17: a 416 tells the client the representation's length.
        return {} if self.size is None else {"Content-Range": f"bytes */{self.size}"}


class VerificationFailed(LibrarianError):
    code = ErrorCode.VERIFICATION_FAILED
    status_code = 422
    reason = "The received bytes do not match the declared size or checksum."
    suggested_remedy = "Check the local file and upload it again; the staged bytes were discarded."


class InsufficientStorage(LibrarianError):
    code = ErrorCode.INSUFFICIENT_STORAGE
    status_code = 507
    reason = "No store has room for this upload."
    suggested_remedy = "Free space, add a store (`librarian-server add-store`), or upload less."


class ServiceUnavailable(LibrarianError):
    """Too busy to answer now (the catalogue stayed locked); nothing was recorded."""

    code = ErrorCode.UNAVAILABLE
    status_code = 503
    reason = "The server is too busy to answer; nothing was recorded."
    suggested_remedy = "Retry shortly."

    def __init__(
        self,
        reason: str | None = None,
        suggested_remedy: str | None = None,
        *,
        retry_after: int = 5,
    ) -> None:
        super().__init__(reason, suggested_remedy)
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class ConfigurationError(LibrarianError):
    code = ErrorCode.CONFIGURATION_ERROR
    status_code = 500
    reason = "The server is misconfigured."
    suggested_remedy = "Check the server settings."


_PEER_WIDE = frozenset({401, 403, 404, 407, 408, 429})


class PeerError(LibrarianError):
    """A call to another site failed: unreachable, timed out, or refused."""

    code = ErrorCode.PEER_ERROR
    status_code = 502
    reason = "A peer site could not be reached or refused the request."
    suggested_remedy = "Check the peer's URL, credentials and health; the transfer is retried."

    def __init__(
        self,
        reason: str | None = None,
        *,
        peer_status: int | None = None,
        remedy: str | None = None,
    ) -> None:
        super().__init__(reason, remedy)
        self.peer_status = peer_status

    @property
    def peer_wide(self) -> bool:
        """Whether this speaks for the peer as a whole, not for one file: no answer or a
        timeout, a server error, or a refusal of our credentials, URL or rate."""
        status = self.peer_status
        return status is None or status >= 500 or status in _PEER_WIDE


class TooManyAttempts(LibrarianError):
    """Failed logins locked this user or address out; ``retry_after`` is in whole seconds."""

    code = ErrorCode.TOO_MANY_ATTEMPTS
    status_code = 429
    reason = "Too many failed logins."
    suggested_remedy = "Wait, then log in with the right credentials."

    def __init__(self, retry_after: int, what: str) -> None:
        self.retry_after = max(1, retry_after)
        super().__init__(
            f"Too many failed logins for {what}; locked for {self.retry_after} s.",
            f"Wait {self.retry_after} s (Retry-After), then use the right credentials.",
        )

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class BodyTooLarge(LibrarianError):
    code = ErrorCode.BODY_TOO_LARGE
    status_code = 413
    reason = "The request body is too large for this endpoint."

    def __init__(self, limit: int, what: str) -> None:
        super().__init__(
            f"The request body is larger than {limit} bytes, the limit for {what}.",
            "Send a smaller request: split a batch into several, or shorten the document.",
        )


class NameConflict(Conflict):
    """A name that is both a file and a directory would make one of them unreachable."""

    code = ErrorCode.NAME_CONFLICT
    status_code = 409
    reason = "The name clashes with a file or directory that exists."
    suggested_remedy = (
        "Choose another name: one name cannot be both a file and a directory "
        "(e.g. 'run1.dat' beside 'run1/...', not 'run1')."
    )
