"""Counting HTTP requests: a pure ASGI middleware, outermost, so refusals count too.

Each request is counted under its route *template* (``/api/v2/files/{name:path}``),
never its raw path, so that the label set stays as small as the API: requests that match
no route count as ``unmatched``, and methods outside HTTP's usual ones as ``other``.
The body bytes are counted as they pass, and the time until the answer's last byte
(or until the app gave up, for an error) goes to a histogram.
"""

from __future__ import annotations

import re
import time
from typing import Any

from fastapi import routing
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from librarian_server.metrics import counters

UNMATCHED = "unmatched"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})


class RouteTemplates:
    """Route object -> its full path templates (one route may be included under several
    prefixes: VOSpace's ``/vospace`` and ``/vospace/auth``), built once per app."""

    def __init__(self, app: Any) -> None:
        self.by_route: dict[int, list[tuple[re.Pattern[str] | None, str]]] = {}
        self.every: list[tuple[re.Pattern[str], str, frozenset[str]]] = []
        contexts = getattr(routing, "iter_route_contexts", None)  # FastAPI >= 0.160
        for item in contexts(app.routes) if contexts else app.routes:
            route = getattr(item, "original_route", item)
            path = getattr(item, "path", None)
            if not isinstance(path, str):
                continue
            regex = getattr(item, "path_regex", None)
            self.by_route.setdefault(id(route), []).append((regex, path))
            if regex is not None:
                methods = frozenset(getattr(item, "methods", None) or ())
                self.every.append((regex, path, methods))

    def template(self, scope: Scope) -> str:
        route = scope.get("route")
        if route is None:  # refused before routing (the guard), or no route at all
            return self._search(_route_path(scope), scope.get("method", ""))
        found = self.by_route.get(id(route))
        if not found:
            path = getattr(route, "path", None)
            return path if isinstance(path, str) else UNMATCHED
        if len(found) == 1:
            return found[0][1]
        path = _route_path(scope)
        for regex, template in found:
            if regex is not None and regex.match(path):
                return template
        return found[0][1]

    def _search(self, path: str, method: str) -> str:
        """The route the router would have chosen: one for this method, else any."""
        fallback = UNMATCHED
        for regex, template, methods in self.every:
            if regex.match(path):
                if not methods or method in methods:
                    return template
                if fallback == UNMATCHED:
                    fallback = template
        return fallback


def _route_path(scope: Scope) -> str:
    path: str = scope.get("path", "")
    root: str = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    return path


class HTTPMetrics:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.templates: RouteTemplates | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        received = sent = 0
        status = 500  # what the client gets if the app raises before answering

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
            return message

        async def counted_send(message: Message) -> None:
            nonlocal sent, status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, counted_receive, counted_send)
        finally:
            method = scope.get("method", "")
            counters.http_request(
                self._template(scope),
                method if method in METHODS else "other",
                status,
                time.perf_counter() - started,
                received,
                sent,
            )

    def _template(self, scope: Scope) -> str:
        try:
            if self.templates is None:
                self.templates = RouteTemplates(scope["app"])
            return self.templates.template(scope)
        except Exception:  # never fail a request over its label
            return UNMATCHED
