"""The gate every HTTP request passes before any of its body is read.

Parsing a body before checking who sent it let anyone make the server buffer and
parse megabytes (41 MiB cost 2 s and 420 MB). This ASGI middleware, in front of
every route:

1. classifies the request (``classify``) into a body cap and an anonymous policy;
2. refuses a declared ``Content-Length`` over the cap with 413 at once;
3. authenticates the credentials (Basic, bearer; peers are accounts too), with the
   login throttle, and refuses bad ones (401), locked-out ones (429 + Retry-After)
   and a missing one where anonymous access is not allowed (401), all before a body
   byte is read;
4. counts the bytes of the body as the route reads it and answers 413 as soon as a
   chunked (or lying) body passes the cap.

The user it found is left in the scope for ``deps.optional_user``. Errors come in the
API's JSON body, or as plain-text VOSpace faults under ``/vospace``.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from anyio import to_thread
from starlette.datastructures import Headers
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from librarian_client.models import API_PREFIX as API
from librarian_client.models import ErrorResponse
from librarian_server.errors import (
    AuthenticationRequired,
    BodyTooLarge,
    InvalidRequest,
    LibrarianError,
    TooManyAttempts,
)
from librarian_server.metrics.route import PATH as METRICS_PATH
from librarian_server.services.accounts.auth import AuthenticatedUser, Authenticator
from librarian_server.services.accounts.throttle import ThrottlePolicy
from librarian_server.settings import ServerSettings

USER_KEY = "librarian.user"
VOSPACE = "/vospace"
UI = "/ui"
# The dashboard's forms carry an id, a CSRF token, at most a user name and a password.
UI_FORM_BYTES = 8 << 10
_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})
# Bodies streamed to a store: no cap (a file is as big as it is), but never anonymous.
_STREAMS = (
    ("PUT", re.compile(r"/(upload|clone)/[^/]+")),
    ("POST", re.compile(r"/(upload|clone)/bundle")),
)
_MANIFESTS = frozenset(
    {
        "/upload/stage",
        "/upload/commit",
        "/clone/stage",
        "/clone/complete",
        "/clone/status",
        "/checkin",
        "/checkin/status",
        "/proofs",
    }
)
# VOSI and service metadata: open to anyone, as the VOSpace standard expects.
_VOSPACE_OPEN = frozenset({"/capabilities", "/availability", "/properties", "/views", "/protocols"})
# Creating a transfer job is how VOSpace clients read; the handlers refuse anonymous writes.
_VOSPACE_READ_POSTS = frozenset({"/transfers", "/synctrans"})


@dataclass(frozen=True)
class Rule:
    cap: int | None  # None: uncapped (streamed to a store)
    what: str
    anonymous: bool  # may the request come without credentials?
    # False: the route checks its own credentials (the metrics token is no account's).
    accounts: bool = True


def _strip_root(scope: Scope) -> str:
    path: str = scope.get("path", "")
    root: str = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    return path


def classify(method: str, path: str, settings: ServerSettings) -> Rule:
    """The body cap and anonymous policy of one request (documented in the README)."""
    safe = method in _SAFE
    if settings.vospace_enabled and (path == VOSPACE or path.startswith(VOSPACE + "/")):
        rest = path[len(VOSPACE) :]
        if rest == "/auth" or rest.startswith("/auth/"):
            rest = rest[len("/auth") :]
        if rest.startswith("/endpoints/"):  # the URL's secret token is the credential
            cap = None if method == "PUT" else settings.max_vospace_document_bytes
            return Rule(cap, "a transfer endpoint", True)
        if method == "PUT" and rest.startswith("/files/"):
            return Rule(None, "a file upload", False)
        anon_read = settings.vospace_anonymous_read
        anonymous = (safe and (rest in _VOSPACE_OPEN or anon_read)) or (
            method == "POST" and rest in _VOSPACE_READ_POSTS and anon_read
        )
        return Rule(settings.max_vospace_document_bytes, "a VOSpace document", anonymous)
    if settings.ui_enabled and (path == UI or path.startswith(UI + "/")):
        # The dashboard checks its own session cookie (and CSRF token) on every request;
        # pages answer anonymous ones with a redirect to the login form.
        return Rule(UI_FORM_BYTES, "a dashboard form", True)
    if path.startswith(API + "/"):
        rest = path[len(API) :]
        if rest == "/ping" and safe:
            return Rule(settings.max_json_body_bytes, "a JSON API request", True)
        if any(method == m and pattern.fullmatch(rest) for m, pattern in _STREAMS):
            return Rule(None, "an upload body", False)
        if method == "POST" and rest in _MANIFESTS:
            return Rule(settings.max_manifest_body_bytes, "a batch manifest", False)
        return Rule(
            settings.max_json_body_bytes,
            "a JSON API request",
            safe and settings.allow_anonymous_read,
        )
    if path == METRICS_PATH:
        return Rule(settings.max_json_body_bytes, "the metrics endpoint", True, accounts=False)
    return Rule(settings.max_json_body_bytes, "this server", True)


def credentials(header: str | None) -> tuple[str, str] | None:
    """("bearer", token) or ("basic", "user:password"); None when nothing was sent."""
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    scheme = scheme.lower()
    if scheme == "bearer" and value.strip():
        return "bearer", value.strip()
    if scheme == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise AuthenticationRequired("Malformed Basic credentials.") from None
        if ":" in decoded:
            return "basic", decoded
    raise AuthenticationRequired("Unsupported Authorization header.")


def authenticate(
    state: Any,
    creds: tuple[str, str],
    *,
    address: str | None,
    policy: ThrottlePolicy | None,
) -> AuthenticatedUser:
    """Check credentials in a session of their own, committed even on failure (the
    throttle's failure count must persist although the request is refused)."""
    authenticator: Authenticator = state.authenticator
    with state.session_factory() as session:
        try:
            if creds[0] == "bearer":
                return authenticator.bearer(session, creds[1])
            username, _, password = creds[1].partition(":")
            return authenticator.basic(session, username, password, address=address, policy=policy)
        finally:
            session.commit()


# How a front end other than the JSON API (VOSpace: plain-text faults) words a refusal;
# passed in by the app, so that this layer needs no import of that front end.
FaultRenderer = Callable[[LibrarianError, dict[str, str]], Response]


def error_response(exc: LibrarianError, render: FaultRenderer | None) -> Response:
    headers: dict[str, str] = {}
    if exc.status_code == 401:
        headers["WWW-Authenticate"] = 'Basic realm="librarian", Bearer'
    if isinstance(exc, TooManyAttempts):
        headers["Retry-After"] = str(exc.retry_after)
    if render is not None:
        return render(exc, headers)
    body = ErrorResponse(
        reason=exc.reason,
        suggested_remedy=exc.suggested_remedy,
        error=type(exc).__name__,
        code=exc.code,
    )
    return JSONResponse(body.model_dump(), status_code=exc.status_code, headers=headers)


class Guard:
    def __init__(
        self, app: ASGIApp, settings: ServerSettings, vospace_fault: FaultRenderer | None = None
    ) -> None:
        self.app = app
        self.settings = settings
        self.vospace_fault = vospace_fault
        self.policy = ThrottlePolicy.from_settings(settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = _strip_root(scope)
        vospace = path == VOSPACE or path.startswith(VOSPACE + "/")
        render = self.vospace_fault if vospace else None
        rule = classify(scope["method"], path, self.settings)
        try:
            scope[USER_KEY] = await self._admit(scope, rule)
        except LibrarianError as exc:
            await error_response(exc, render)(scope, receive, send)
            return
        if rule.cap is None:
            await self.app(scope, receive, send)
            return
        await _Counted(self.app, rule, render)(scope, receive, send)

    async def _admit(self, scope: Scope, rule: Rule) -> AuthenticatedUser | None:
        headers = Headers(scope=scope)
        declared = headers.get("content-length")
        if rule.cap is not None and declared is not None:
            try:
                length = int(declared)
            except ValueError:
                raise InvalidRequest("Content-Length is not a number.") from None
            if length > rule.cap:
                raise BodyTooLarge(rule.cap, rule.what)
        if not rule.accounts:
            return None
        creds = credentials(headers.get("authorization"))
        if creds is None:
            if not rule.anonymous:
                raise AuthenticationRequired()
            return None
        client = scope.get("client")
        address = str(client[0]) if client else None
        state = scope["app"].state
        return await to_thread.run_sync(
            lambda: authenticate(state, creds, address=address, policy=self.policy)
        )


class _Counted:
    """Runs the app with a receive that stops a body at the cap and answers 413 itself."""

    def __init__(self, app: ASGIApp, rule: Rule, render: FaultRenderer | None) -> None:
        self.app, self.rule, self.render = app, rule, render
        self.received = 0
        self.started = False
        self.refused = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        cap = self.rule.cap
        assert cap is not None  # noqa: S101 - only built for capped rules

        async def counted_receive() -> Message:
            if self.refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                self.received += len(message.get("body", b""))
                if self.received > cap:
                    if not self.started:
                        self.refused = True
                        refusal = error_response(BodyTooLarge(cap, self.rule.what), self.render)
                        await refusal(scope, receive, send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if self.refused:
                return  # the 413 is the answer; whatever the app makes of the cut is dropped
            if message["type"] == "http.response.start":
                self.started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except Exception:
            if not self.refused:
                raise
