"""The web dashboard under /ui: server-rendered pages over the services, for operators.

``install`` mounts the pages, the login, the static files (one stylesheet, one script,
all served from this package: no CDN, no build step) and the handlers that turn a
missing session into a redirect to the login form and a refusal into a page.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from librarian_server.settings import ServerSettings
from librarian_server.ui import accounts, operations, pages, session, webhooks
from librarian_server.ui.render import STATIC, SecurityHeaders, page
from librarian_server.ui.session import LoginRequired, Refused, login_path

__all__ = ["install"]


async def _login_required(request: Request, exc: Exception) -> Response:
    if request.method in ("GET", "HEAD"):
        root = request.scope.get("root_path", "")
        return RedirectResponse(root + login_path(request), status_code=303)
    return await _refused(request, Refused(403, "Log in first."))


async def _refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Refused)  # noqa: S101 - registered for this class only
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse({"ok": False, "message": exc.message}, status_code=exc.status)
    return page(
        request, None, "error.html", title="Refused", status=exc.status, message=exc.message
    )


def install(app: FastAPI, settings: ServerSettings) -> None:
    """Serve the dashboard (when ``ui_enabled``): pages, login, static files."""
    if not settings.ui_enabled:
        return
    app.add_middleware(SecurityHeaders)
    app.mount(STATIC, StaticFiles(directory=Path(__file__).parent / "static"), name="ui-static")
    app.include_router(session.router)
    app.include_router(pages.router)
    app.include_router(operations.router)
    app.include_router(accounts.router)
    app.include_router(webhooks.router)
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(Refused, _refused)
