"""The account pages: users and their tokens (administrators), the audit log of what
administrators did, and one's own account (password, tokens).

Every action calls the same service as its API twin (``services/accounts``), so the
rules hold alike: the last enabled admin stays, a peer's account is not deleted, and
each change is an audit event with the acting user as its actor.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response

from librarian_client.models import (
    MAX_ID,
    PasswordChange,
    PermissionLevel,
    UserUpdate,
)
from librarian_server.api.deps import SessionDep, SessionFactoryDep, SettingsDep
from librarian_server.api.params import no_nul_in_url
from librarian_server.errors import LibrarianError
from librarian_server.services.accounts import audit, throttle, tokens, users
from librarian_server.ui.operations import act
from librarian_server.ui.render import PREFIX, outcome, page
from librarian_server.ui.session import Acting, AdminActing, Refused, Viewer, Viewing, read_form

router = APIRouter(prefix=PREFIX, include_in_schema=False, dependencies=[Depends(no_nul_in_url)])

UserPath = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f/]+$")]
TokenPath = Annotated[int, Path(ge=0, le=MAX_ID)]
PAGE = 50


def _admin_only(who: Viewer) -> None:
    if not who.can_act:
        raise Refused(403, "Only administrators see the accounts and the audit log.")


@router.get("/users")
def users_page(request: Request, who: Viewing, session: SessionDep) -> Response:
    _admin_only(who)
    return page(
        request,
        who,
        "users.html",
        title="Users",
        users=users.list_users(session),
        tokens=tokens.list_tokens(session, user_id=None),
        levels=[level.value for level in PermissionLevel],
    )


class Switch(StrEnum):
    ENABLE = "enable"
    DISABLE = "disable"


@router.post("/users/{name}/level")
async def set_level(
    request: Request, name: UserPath, who: AdminActing, factory: SessionFactoryDep
) -> Response:
    form = await read_form(request)
    try:
        level = PermissionLevel(form.get("level", ""))
    except ValueError:
        choices = ", ".join(v.value for v in PermissionLevel)
        raise Refused(400, f"Choose a level: {choices}.") from None
    return await act(
        request,
        who,
        factory,
        lambda s: users.update_user(s, name, UserUpdate(permission=level), actor=who.user.name),
        lambda u: f"{u.name} is now {u.permission.value}.",
        back=PREFIX + "/users",
    )


@router.post("/users/{name}/delete")
async def delete(
    request: Request, name: UserPath, who: AdminActing, factory: SessionFactoryDep
) -> Response:
    return await act(
        request,
        who,
        factory,
        lambda s: users.delete_user(s, name, actor=who.user.name),
        lambda d: f"{d.name} is deleted ({d.tokens_revoked} token(s) revoked); their files stay.",
        back=PREFIX + "/users",
    )


@router.post("/tokens/{token_id}/revoke")
async def revoke(
    request: Request, token_id: TokenPath, who: Acting, factory: SessionFactoryDep
) -> Response:
    """Your own token, or (administrators) anyone's, with every token minted from it."""
    back = PREFIX + ("/users" if who.can_act else "/account")
    user = who.user
    return await act(
        request,
        who,
        factory,
        lambda s: tokens.revoke_token(
            s, token_id, user_id=user.id, permission=user.permission, actor=user.name
        ),
        lambda ids: f"Revoked {len(ids)} token(s).",
        back=back,
    )


@router.get("/audit")
def audit_page(
    request: Request,
    who: Viewing,
    session: SessionDep,
    after: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
) -> Response:
    _admin_only(who)
    return page(
        request,
        who,
        "audit.html",
        title="Audit log",
        found=audit.page(session, after=after, limit=PAGE),
    )


@router.get("/account")
def account_page(request: Request, who: Viewing, session: SessionDep) -> Response:
    return page(
        request,
        who,
        "account.html",
        title="Your account",
        tokens=tokens.list_tokens(session, user_id=who.user.id),
        current=who.user.token_id,
    )


@router.post("/account/password")
async def change_password(
    request: Request, who: Acting, factory: SessionFactoryDep, settings: SettingsDep
) -> Response:
    form = await read_form(request)
    back = PREFIX + "/account"
    if form.get("new_password", "") != form.get("repeat_password", ""):
        return outcome(
            request, who, ok=False, message="The new passwords differ.", back=back, status=400
        )
    try:
        change = PasswordChange(
            current_password=form.get("current_password", ""),
            new_password=form.get("new_password", ""),
            revoke_tokens=form.get("revoke_tokens") == "on",
        )
    except ValueError:
        return outcome(
            request, who, ok=False, message="Give both passwords.", back=back, status=400
        )

    def run() -> object:
        return users.change_own_password(
            factory,
            who.user,
            change,
            address=request.client.host if request.client else None,
            policy=throttle.ThrottlePolicy.from_settings(settings),
        )

    try:
        done = await to_thread.run_sync(run)
    except LibrarianError as exc:
        return outcome(
            request, who, ok=False, message=exc.reason, back=back, status=exc.status_code
        )
    revoked = getattr(done, "tokens_revoked", 0)
    extra = f" {revoked} other token(s) revoked." if revoked else ""
    return outcome(request, who, ok=True, message=f"Your password is changed.{extra}", back=back)


# Last: its {switch} would otherwise take the paths of the actions above.
@router.post("/users/{name}/{switch}")
async def enable_or_disable(
    request: Request, name: UserPath, switch: Switch, who: AdminActing, factory: SessionFactoryDep
) -> Response:
    """Disabling stops the user's tokens and dashboard sessions at once, everywhere."""
    change = UserUpdate(disabled=switch is Switch.DISABLE)
    said = {
        Switch.DISABLE: "is disabled: their tokens and sessions stop working now.",
        Switch.ENABLE: "is enabled again.",
    }[switch]
    return await act(
        request,
        who,
        factory,
        lambda s: users.update_user(s, name, change, actor=who.user.name),
        lambda u: f"{u.name} {said}",
        back=PREFIX + "/users",
    )
