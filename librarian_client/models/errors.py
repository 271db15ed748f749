"""The error vocabulary shared by server and client.

Every JSON error body, and every error line of a streamed answer, names one of these
codes. A status says how bad; the code says what happened, so that a 409 "a transfer is
running" and a 409 "the file exists" lead a client to different conclusions. Codes are
stable: a new kind of error gets a new code, and an old code keeps its meaning.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    """What went wrong, in words a program can act on (the README has the table)."""

    INVALID_REQUEST = "invalid_request"
    """The request is not valid as asked (a bad value, a wrong combination)."""
    INVALID_NAME = "invalid_name"
    """A file or directory name breaks the name rule."""
    VALIDATION_ERROR = "validation_error"
    """The request does not fit the API's schema (a missing or mistyped field)."""
    AUTHENTICATION_REQUIRED = "authentication_required"
    """No credentials, or credentials that are not valid."""
    PERMISSION_DENIED = "permission_denied"
    """The account may not do this."""
    NOT_FOUND = "not_found"
    """No such file, transfer, user, store, peer or URL."""
    METHOD_NOT_ALLOWED = "method_not_allowed"
    """The URL exists but does not take this HTTP method."""
    CONFLICT = "conflict"
    """The request conflicts with the current state (a name already taken, say)."""
    FILE_EXISTS = "file_exists"
    """A file of this name exists with other contents; files are immutable."""
    NAME_CONFLICT = "name_conflict"
    """The name is a file where a directory is wanted, or the other way round."""
    LAST_ADMIN = "last_admin"
    """The change would leave the site without an enabled administrator."""
    ACCOUNT_IN_USE = "account_in_use"
    """A peer site still signs in with this account; remove the peer first."""
    TRANSFER_RUNNING = "transfer_running"
    """A transfer is still under way; wait for it (or cancel it) and ask again."""
    TRANSFER_CLOSED = "transfer_closed"
    """The transfer was closed (cancelled, abandoned) before this request could use it."""
    FILE_OFFLINE = "file_offline"
    """The file's only copies here are on tape: staging was started (the job is named);
    ask again when it is ready (Retry-After)."""
    DELETION_REFUSED = "deletion_refused"
    """The files may not be deleted as asked (in flight, protected, the last copy)."""
    COPY_FAILED_VERIFICATION = "copy_failed_verification"
    """Every copy this site holds of the file failed its checksum; it is not served."""
    BODY_TOO_LARGE = "body_too_large"
    """The request body is larger than this endpoint accepts."""
    RANGE_NOT_SATISFIABLE = "range_not_satisfiable"
    """The byte range asked for lies outside the file."""
    VERIFICATION_FAILED = "verification_failed"
    """The bytes received do not match the declared size or checksum."""
    TOO_MANY_ATTEMPTS = "too_many_attempts"
    """Failed logins locked the account or address out for a while (Retry-After)."""
    INTERNAL_ERROR = "internal_error"
    """A fault in the server; its log says more."""
    CONFIGURATION_ERROR = "configuration_error"
    """The server's settings do not allow this; its operator must fix them."""
    PEER_ERROR = "peer_error"
    """Another site could not be reached, timed out, or refused the call."""
    UNAVAILABLE = "unavailable"
    """The server is too busy right now (Retry-After); nothing was recorded."""
    INSUFFICIENT_STORAGE = "insufficient_storage"
    """No store (or the catalogue's disk) has room; nothing was recorded."""


def known_code(value: object) -> ErrorCode | None:
    """The code ``value`` names, or None: a newer server may send one this client lacks."""
    if not isinstance(value, str):
        return None
    try:
        return ErrorCode(value)
    except ValueError:
        return None
