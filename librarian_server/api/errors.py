"""One handler per error family, all producing the flat ErrorResponse body."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from librarian_client.models import ErrorResponse

from ..errors import LibrarianError

log = logging.getLogger(__name__)


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


async def unexpected_error(_: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    return _body(500, "Internal server error.", LibrarianError.suggested_remedy, "InternalError")


def install(app: FastAPI) -> None:
    app.add_exception_handler(LibrarianError, librarian_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected_error)
