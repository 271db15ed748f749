"""Dashboard logins: a session cookie holding an ordinary API token, and CSRF tokens.

Logging in checks the password exactly as the API does (the same cache, the same
failed-login throttle) and creates a bearer token, "dashboard session", whose value
is the cookie. Every page checks that token like any bearer token, so logging out
(revoking it), revoking it with ``librarian token revoke`` or disabling the user ends
the session in every server process at once.

A state-changing request (every POST) must carry a CSRF token, an HMAC of the
session token under a key derived from the site's secret key file, as the form field
``csrf`` or the header ``X-CSRF-Token``; it must also not come from another origin.
The login form, before there is a session, is bound the same way to a random value
in a cookie of its own. The cookies are HttpOnly, SameSite=Strict, limited to /ui,
and Secure when the request came over https.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated
from urllib.parse import parse_qsl, quote, urlsplit

from anyio import to_thread
from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from librarian_client.models import PermissionLevel
from librarian_server.api.guard import UI_FORM_BYTES, authenticate
from librarian_server.errors import AuthenticationRequired, TooManyAttempts
from librarian_server.services.accounts.auth import AuthenticatedUser, Authenticator
from librarian_server.services.accounts.throttle import ThrottlePolicy
from librarian_server.services.accounts.tokens import create_token, revoke_token
from librarian_server.services.core.credentials import CredentialBox
from librarian_server.settings import ServerSettings
from librarian_server.ui.render import PREFIX, page

COOKIE = "librarian_session"
LOGIN_COOKIE = "librarian_login"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
DESCRIPTION = "dashboard session"
_MAX_TOKEN = 256  # longer than any token this server makes
_FORM = "application/x-www-form-urlencoded"

router = APIRouter(prefix=PREFIX, include_in_schema=False)


@dataclass(frozen=True)
class Viewer:
    """The logged-in user of a dashboard request, with the CSRF token of their session."""

    user: AuthenticatedUser
    csrf: str

    @property
    def can_act(self) -> bool:
        """Actions (retry, cancel, run, repair) are for administrators."""
        return self.user.is_admin


class LoginRequired(Exception):
    """No valid session: a page redirects to the login form."""


class Refused(Exception):
    """A dashboard request refused with ``status``; shown as a page (or JSON to scripts)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _settings(request: Request) -> ServerSettings:
    settings: ServerSettings = request.app.state.settings
    return settings


def _key(request: Request) -> bytes:
    """The CSRF key: derived from the site's secret key file, the same in every process."""
    state = request.app.state
    key: bytes | None = getattr(state, "ui_csrf_key", None)
    if key is None:
        key = CredentialBox.for_settings(_settings(request)).derive("dashboard csrf").encode()
        state.ui_csrf_key = key
    return key


def csrf_token(key: bytes, value: str) -> str:
    return hmac.new(key, b"csrf\0" + value.encode(), hashlib.sha256).hexdigest()


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _set_cookie(response: Response, request: Request, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=PREFIX,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
    )


def _clear_cookie(response: Response, request: Request, name: str) -> None:
    response.delete_cookie(
        name, path=PREFIX, httponly=True, samesite="strict", secure=_secure(request)
    )


def _check_token(request: Request, token: str) -> AuthenticatedUser:
    state = request.app.state
    authenticator: Authenticator = state.authenticator
    with state.session_factory() as session:
        return authenticator.bearer(session, token)


def _session_user(request: Request) -> tuple[AuthenticatedUser, str] | None:
    token = request.cookies.get(COOKIE)
    if not token or len(token) > _MAX_TOKEN:
        return None
    try:
        user = _check_token(request, token)
    except AuthenticationRequired:  # revoked, expired, or the user was disabled
        return None
    if user.permission is PermissionLevel.PEER:
        return None
    return user, token


def viewer(request: Request) -> Viewer:
    """The logged-in user; without a valid session, pages redirect to the login form."""
    found = _session_user(request)
    if found is None:
        raise LoginRequired()
    user, token = found
    return Viewer(user, csrf_token(_key(request), token))


def _same_origin(request: Request) -> bool:
    """A browser says where a request comes from; anything but this site is refused."""
    origin = request.headers.get("origin")
    if origin is None:
        return request.headers.get("sec-fetch-site") in (None, "same-origin", "none")
    ours = {f"{request.url.scheme}://{request.url.netloc}".lower()}
    public = _settings(request).public_url
    if public:
        parts = urlsplit(public)
        ours.add(f"{parts.scheme}://{parts.netloc}".lower())
    return origin.lower() in ours


async def read_form(request: Request) -> dict[str, str]:
    """The urlencoded body (the guard has capped it), as a dict of its first values."""
    body = await request.body()
    if len(body) > UI_FORM_BYTES:
        raise Refused(413, "The form is too large.")
    if not body:
        return {}
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != _FORM:
        raise Refused(415, f"The form must be sent as {_FORM}.")
    try:
        pairs = parse_qsl(body.decode(), keep_blank_values=True, max_num_fields=16)
    except (UnicodeDecodeError, ValueError):
        raise Refused(400, "The form cannot be read.") from None
    form: dict[str, str] = {}
    for name, value in pairs:
        form.setdefault(name, value)
    return form


def _valid_csrf(sent: str | None, expected: str) -> bool:
    return sent is not None and hmac.compare_digest(sent.encode(), expected.encode())


async def acting(request: Request) -> Viewer:
    """A POST's user: same origin, a valid session and its CSRF token, else 403."""
    if not _same_origin(request):
        raise Refused(403, "Refused: the request came from another site.")
    found = await to_thread.run_sync(_session_user, request)
    if found is None:
        raise Refused(403, "Your session has ended; log in again.")
    user, token = found
    expected = csrf_token(_key(request), token)
    form = await read_form(request)
    if not _valid_csrf(request.headers.get(CSRF_HEADER) or form.get(CSRF_FIELD), expected):
        raise Refused(403, "Refused: the request carried no valid CSRF token; reload the page.")
    return Viewer(user, expected)


async def admin_acting(request: Request) -> Viewer:
    acted = await acting(request)
    if not acted.can_act:
        raise Refused(
            403, f"User {acted.user.name!r} ({acted.user.permission}) may look but not act."
        )
    return acted


Viewing = Annotated[Viewer, Depends(viewer)]
Acting = Annotated[Viewer, Depends(acting)]
AdminActing = Annotated[Viewer, Depends(admin_acting)]


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a dashboard path of this site, never elsewhere."""
    if (
        target
        and target.startswith(PREFIX + "/")
        and not target.startswith(PREFIX + "/login")
        and "//" not in target
        and "\\" not in target
        and all(c.isprintable() for c in target)
    ):
        return target
    return PREFIX + "/"


def login_path(request: Request) -> str:
    """The login form's URL, coming back to this request's page afterwards."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"{PREFIX}/login?next={quote(here, safe='/')}"


def _login_page(
    request: Request, nonce: str, *, error: str | None, status: int, next_path: str, user: str
) -> Response:
    response = page(
        request,
        None,
        "login.html",
        title="Log in",
        status=status,
        error=error,
        csrf=csrf_token(_key(request), "login\0" + nonce),
        next_path=next_path,
        username=user,
    )
    _set_cookie(response, request, LOGIN_COOKIE, nonce, 3600)
    return response


@router.get("/login")
def login_form(request: Request, next: str | None = None) -> Response:
    root = request.scope.get("root_path", "")
    if _session_user(request) is not None:
        return RedirectResponse(root + safe_next(next), status_code=303)
    nonce = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)
    return _login_page(
        request, nonce[:64], error=None, status=200, next_path=safe_next(next), user=""
    )


def _login(request: Request, username: str, password: str) -> AuthenticatedUser:
    settings = _settings(request)
    client = request.client
    return authenticate(
        request.app.state,
        ("basic", f"{username}:{password}"),
        address=client.host if client else None,
        policy=ThrottlePolicy.from_settings(settings),
    )


def _start_session(request: Request, user: AuthenticatedUser) -> str:
    settings = _settings(request)
    with request.app.state.session_factory.begin() as session:
        token, _ = create_token(
            session,
            user.id,
            expires_in_seconds=settings.ui_session_seconds,
            max_lifetime=timedelta(seconds=settings.token_max_lifetime_seconds),
            description=DESCRIPTION,
        )
    return token


@router.post("/login")
async def login(request: Request) -> Response:
    nonce = request.cookies.get(LOGIN_COOKIE, "")[:64]
    form = await read_form(request)
    next_path = safe_next(form.get("next"))
    username = form.get("username", "").strip()[:128]
    password = form.get("password", "")[:1024]
    fresh = nonce or secrets.token_urlsafe(24)

    def again(error: str, status: int, headers: dict[str, str] | None = None) -> Response:
        response = _login_page(
            request, fresh, error=error, status=status, next_path=next_path, user=username
        )
        response.headers.update(headers or {})
        return response

    expected = csrf_token(_key(request), "login\0" + nonce)
    if not _same_origin(request) or not nonce or not _valid_csrf(form.get(CSRF_FIELD), expected):
        return again("The login form had expired or came from elsewhere; try again.", 403)
    if not username or not password:
        return again("Give a user name and a password.", 400)
    try:
        user = await to_thread.run_sync(_login, request, username, password)
    except TooManyAttempts as exc:
        return again(exc.reason, 429, {"Retry-After": str(exc.retry_after)})
    except AuthenticationRequired as exc:
        return again(exc.reason, 401)
    if user.permission is PermissionLevel.PEER:
        return again("Peer accounts are for other sites and cannot use the dashboard.", 403)
    token = await to_thread.run_sync(_start_session, request, user)
    root = request.scope.get("root_path", "")
    response = RedirectResponse(root + next_path, status_code=303)
    settings = _settings(request)
    lifetime = min(settings.ui_session_seconds, settings.token_max_lifetime_seconds)
    _set_cookie(response, request, COOKIE, token, lifetime)
    _clear_cookie(response, request, LOGIN_COOKIE)
    return response


def _end_session(request: Request, user: AuthenticatedUser) -> None:
    if user.token_id is None:
        return
    with request.app.state.session_factory.begin() as session:
        revoke_token(
            session, user.token_id, user_id=user.id, permission=user.permission, actor=user.name
        )


@router.post("/logout")
async def logout(request: Request, acted: Acting) -> Response:
    """Revokes the session's token: the cookie is worthless from now on, everywhere."""
    await to_thread.run_sync(_end_session, request, acted.user)
    root = request.scope.get("root_path", "")
    response = RedirectResponse(root + PREFIX + "/login", status_code=303)
    _clear_cookie(response, request, COOKIE)
    return response
