"""Templates, the filters pages format with, and the headers every dashboard answer carries.

Autoescaping is on for every template: a file name, an error text or a peer's reason
is shown as text, never as markup. The headers forbid caching by proxies and browsers
(pages show a login's data) and set a Content-Security-Policy that allows this
server's own scripts, styles and images only, none inline.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from jinja2 import Environment, PackageLoader, StrictUndefined
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from librarian_server.orm import utcnow
from librarian_server.ui.charts import usage_bar

if TYPE_CHECKING:
    from librarian_server.ui.session import Viewer

PREFIX = "/ui"
STATIC = PREFIX + "/static"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'"
)
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}
_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")


def human_bytes(n: float | None) -> str:
    if n is None:
        return "-"
    value, unit = float(n), 0
    while abs(value) >= 1024 and unit < len(_UNITS) - 1:
        value /= 1024
        unit += 1
    return f"{int(value)} B" if unit == 0 else f"{value:.1f} {_UNITS[unit]}"


def when(moment: datetime | None) -> str:
    if moment is None:
        return "never"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def duration(seconds: float | None) -> str:
    if seconds is None or math.isnan(seconds):
        return "-"
    seconds = abs(seconds)
    if seconds < 10:
        return f"{seconds:.2f} s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172_800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86_400:.1f} d"


def ago(moment: datetime | None) -> str:
    if moment is None:
        return "never"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = (utcnow() - moment).total_seconds()
    return f"in {duration(delta)}" if delta < 0 else f"{duration(delta)} ago"


def percent(share: float) -> str:
    return f"{share * 100:.0f} %"


def file_url(name: str) -> str:
    """The file page's path: the name quoted segment by segment (its '/' kept)."""
    return f"{PREFIX}/files/{quote(name, safe='/')}"


def query(**params: Any) -> str:
    """``?a=1&b=2`` of the parameters that are set (None and '' left out)."""
    kept = {k: v for k, v in params.items() if v is not None and v != ""}
    return "?" + urlencode(kept) if kept else ""


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("librarian_server.ui", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(bytes=human_bytes, when=when, ago=ago, duration=duration, percent=percent)
    env.globals.update(
        file_url=file_url, query=query, usage=usage_bar, static=STATIC, prefix=PREFIX
    )
    return env


ENV = _environment()


def page(
    request: Request,
    viewer: Viewer | None,
    template: str,
    *,
    title: str,
    status: int = 200,
    refresh: int | None = None,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """A whole page; ``refresh`` seconds makes the script reload its content that often."""
    root = request.scope.get("root_path", "")
    html = ENV.get_template(template).render(
        request_path=request.url.path,
        root=root,
        site=request.app.state.settings.site_name,
        viewer=viewer,
        title=title,
        refresh=refresh,
        **context,
    )
    return HTMLResponse(html, status_code=status, headers=headers)


def outcome(
    request: Request,
    viewer: Viewer,
    *,
    ok: bool,
    message: str,
    back: str,
    status: int | None = None,
) -> Response:
    """What an action answers: JSON to the page's script, a small page to a plain form."""
    code = status or (200 if ok else 409)
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse({"ok": ok, "message": message}, status_code=code)
    return page(
        request,
        viewer,
        "outcome.html",
        title="Done" if ok else "Not done",
        status=code,
        ok=ok,
        message=message,
        back=back,
    )


class SecurityHeaders:
    """Adds the page headers to every answer under /ui (errors and redirects included);
    static files get ``nosniff`` and may be cached."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        root: str = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        if scope["type"] != "http" or not (path == PREFIX or path.startswith(PREFIX + "/")):
            await self.app(scope, receive, send)
            return
        static = path.startswith(STATIC + "/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if static:
                    headers["X-Content-Type-Options"] = "nosniff"
                else:
                    for name, value in PAGE_HEADERS.items():
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, with_headers)
