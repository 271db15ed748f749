"""One handler per error family, all producing the flat ErrorResponse body.

Each family is first made a ``LibrarianError``, so every body carries the code and
status of one class of the domain tree.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from librarian_client.models import ErrorResponse
from librarian_server.errors import (
    AuthenticationRequired,
    InsufficientStorage,
    InvalidRequest,
    LibrarianError,
    MalformedRequest,
    MethodNotAllowed,
    NotFound,
    PermissionDenied,
    ServiceUnavailable,
)

log = logging.getLogger(__name__)
DISK_FULL = "53100"  # PostgreSQL's SQLSTATE disk_full


def _body(exc: LibrarianError, error: str | None = None) -> JSONResponse:
    """The answer for ``exc``; ``error`` keeps the names these bodies have always had."""
    headers = exc.headers()
    if exc.status_code == 401:
        headers["WWW-Authenticate"] = 'Basic realm="librarian", Bearer'
    content = ErrorResponse(
        reason=exc.reason,
        suggested_remedy=exc.suggested_remedy,
        error=error or type(exc).__name__,
        code=exc.code,
    )
    return JSONResponse(content.model_dump(), status_code=exc.status_code, headers=headers)


async def librarian_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, LibrarianError)  # noqa: S101 - registered for this class only
    if exc.status_code == 507:
        log.warning("%s: %s", type(exc).__name__, exc.reason)
    elif exc.status_code >= 500:
        log.error("%s: %s", type(exc).__name__, exc.reason)
    return _body(exc)


async def validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)  # noqa: S101
    problems = "; ".join(
        f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}" for e in exc.errors()
    )
    return _body(MalformedRequest(f"Invalid request: {problems}"), "InvalidRequest")


async def http_error(_: Request, exc: Exception) -> JSONResponse:
    """Starlette's own refusals: mostly no such route (404) or method (405)."""
    assert isinstance(exc, StarletteHTTPException)  # noqa: S101
    remedy = "Check the URL and method." if exc.status_code in (404, 405) else "See /docs."
    known = _HTTP.get(exc.status_code)
    fallback = InvalidRequest if exc.status_code < 500 else LibrarianError
    refusal = (known or fallback)(str(exc.detail), remedy)
    if known is None:  # a status without a class of its own keeps its number
        refusal.status_code = exc.status_code
    return _body(refusal, "HTTPError")


_HTTP: dict[int, type[LibrarianError]] = {
    cls.status_code: cls
    for cls in (
        InvalidRequest,
        AuthenticationRequired,
        PermissionDenied,
        NotFound,
        MethodNotAllowed,
    )
}


RETRY_AFTER_SECONDS = 5


async def database_error(request: Request, exc: Exception) -> JSONResponse:
    """The catalogue's disk full is a 507 and a busy SQLite a 503, not a bare 500."""
    assert isinstance(exc, OperationalError)  # noqa: S101
    original = exc.orig
    text = str(original).lower()
    if getattr(original, "sqlstate", None) == DISK_FULL or "database or disk is full" in text:
        log.error("the catalogue's disk is full: %s", original)
        return _body(
            InsufficientStorage(
                "The catalogue's disk is full; nothing of this request was recorded.",
                "Free space where the database keeps its files, then retry the request.",
            )
        )
    if "database is locked" in text:
        log.warning("the catalogue stayed locked past the busy timeout: %s", original)
        return _body(
            ServiceUnavailable(
                "The catalogue is busy (the database stayed locked); nothing was recorded.",
                f"Retry in {RETRY_AFTER_SECONDS} seconds; if it keeps happening, use "
                "PostgreSQL for this many concurrent writers.",
                retry_after=RETRY_AFTER_SECONDS,
            )
        )
    return await unexpected_error(request, exc)


async def client_gone(request: Request, exc: Exception) -> Response:
    """The client went away mid-request (killed, network cut): nobody hears an answer.

    Not a server error: an interrupted upload keeps its bytes for a resume.
    """
    log.info("client disconnected during %s %s", request.method, request.url.path)
    return Response(status_code=499)


async def unexpected_error(_: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    return _body(LibrarianError("Internal server error."), "InternalError")


def install(app: FastAPI) -> None:
    app.add_exception_handler(LibrarianError, librarian_error)
    app.add_exception_handler(ClientDisconnect, client_gone)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(OperationalError, database_error)
    app.add_exception_handler(Exception, unexpected_error)
