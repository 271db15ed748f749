"""Errors under /vospace are plain-text VOSpace faults; elsewhere the JSON handlers stay.

Starlette keeps one handler per exception class, so for the classes the API already
handles, the VOSpace handler takes the request when its path is under the VOSpace
mount and hands every other request to the handler it replaced.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from librarian_server.errors import LibrarianError
from librarian_server.services.vospace.faults import (
    AuthenticationRequired,
    InternalFault,
    InvalidArgument,
    NodeNotFound,
    VOSpaceFault,
    from_librarian_error,
)
from librarian_server.vospace.deps import MOUNT

log = logging.getLogger(__name__)
Handler = Callable[[Request, Exception], Awaitable[Response]]


def fault_response(fault: VOSpaceFault) -> PlainTextResponse:
    headers = dict(fault.headers)
    if isinstance(fault, AuthenticationRequired):
        headers["WWW-Authenticate"] = 'Bearer, Basic realm="librarian"'
    if fault.status_code >= 500:
        log.error("VOSpace %s", fault.text)
    return PlainTextResponse(fault.text + "\n", status_code=fault.status_code, headers=headers)


def guard_fault(exc: LibrarianError, headers: dict[str, str]) -> Response:
    """How the request guard (before any route) refuses a VOSpace request: a fault."""
    fault = from_librarian_error(exc)
    status = exc.status_code if exc.status_code in (401, 413, 429) else fault.status_code
    return PlainTextResponse(fault.text + "\n", status_code=status, headers=headers)


def _under_mount(request: Request) -> bool:
    path: str = request.scope.get("path", "")
    root: str = request.scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    return path == MOUNT or path.startswith(MOUNT + "/")


def _as_fault(exc: Exception) -> VOSpaceFault:
    if isinstance(exc, VOSpaceFault):
        return exc
    if isinstance(exc, LibrarianError):
        return from_librarian_error(exc)
    if isinstance(exc, RequestValidationError):
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}"
            for e in exc.errors()
        )
        return InvalidArgument(problems)
    if isinstance(exc, StarletteHTTPException):
        fault = (
            NodeNotFound(str(exc.detail))
            if exc.status_code == 404
            else InvalidArgument(str(exc.detail))
        )
        fault.status_code = exc.status_code
        return fault
    log.exception("unhandled error under %s", MOUNT, exc_info=exc)
    return InternalFault(type(exc).__name__)


def install(app: FastAPI) -> None:
    """Register the fault handler, wrapping whatever handles the shared classes now."""

    async def on_fault(_: Request, exc: Exception) -> Response:
        return fault_response(_as_fault(exc))

    app.add_exception_handler(VOSpaceFault, on_fault)
    for cls in (LibrarianError, RequestValidationError, StarletteHTTPException, Exception):
        previous: Handler | None = app.exception_handlers.get(cls)  # type: ignore[assignment]

        def wrapped(previous: Handler | None = previous) -> Handler:
            async def handler(request: Request, exc: Exception) -> Response:
                if _under_mount(request) or previous is None:
                    return fault_response(_as_fault(exc))
                return await previous(request, exc)

            return handler

        app.add_exception_handler(cls, wrapped())
