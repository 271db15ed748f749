"""One handler per error family, all producing the flat ErrorResponse body."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from librarian_client.models import ErrorResponse
from librarian_server.errors import LibrarianError

log = logging.getLogger(__name__)
DISK_FULL = "53100"  # PostgreSQL's SQLSTATE disk_full


def _body(
    status: int, reason: str, remedy: str, error: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    headers = dict(headers or {})
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="librarian", Bearer'
    content = ErrorResponse(reason=reason, suggested_remedy=remedy, error=error)
    return JSONResponse(content.model_dump(), status_code=status, headers=headers)


async def librarian_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, LibrarianError)  # noqa: S101 - registered for this class only
    if exc.status_code == 507:
        log.warning("%s: %s", type(exc).__name__, exc.reason)
    elif exc.status_code >= 500:
        log.error("%s: %s", type(exc).__name__, exc.reason)
    return _body(
        exc.status_code, exc.reason, exc.suggested_remedy, type(exc).__name__, exc.headers()
    )


async def validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)  # noqa: S101
    problems = "; ".join(
        f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}" for e in exc.errors()
    )
    return _body(
        400,
        f"Invalid request: {problems}",
        "Check the request against the API schema at /docs.",
        "InvalidRequest",
    )


async def http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)  # noqa: S101
    remedy = "Check the URL and method." if exc.status_code in (404, 405) else "See /docs."
    return _body(exc.status_code, str(exc.detail), remedy, "HTTPError")


RETRY_AFTER_SECONDS = 5


async def database_error(request: Request, exc: Exception) -> JSONResponse:
    """The catalogue's disk full is a 507 and a busy SQLite a 503, not a bare 500."""
    assert isinstance(exc, OperationalError)  # noqa: S101
    original = exc.orig
    text = str(original).lower()
    if getattr(original, "sqlstate", None) == DISK_FULL or "database or disk is full" in text:
        log.error("the catalogue's disk is full: %s", original)
        return _body(
            507,
            "The catalogue's disk is full; nothing of this request was recorded.",
            "Free space where the database keeps its files, then retry the request.",
            "InsufficientStorage",
        )
    if "database is locked" in text:
        log.warning("the catalogue stayed locked past the busy timeout: %s", original)
        return _body(
            503,
            "The catalogue is busy (the database stayed locked); nothing was recorded.",
            f"Retry in {RETRY_AFTER_SECONDS} seconds; if it keeps happening, use PostgreSQL "
            "for this many concurrent writers.",
            "ServiceUnavailable",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
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
    return _body(500, "Internal server error.", LibrarianError.suggested_remedy, "InternalError")


def install(app: FastAPI) -> None:
    app.add_exception_handler(LibrarianError, librarian_error)
    app.add_exception_handler(ClientDisconnect, client_gone)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(OperationalError, database_error)
    app.add_exception_handler(Exception, unexpected_error)
