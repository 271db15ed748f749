"""The webhooks page: each subscription's place in the event log and its last delivery,
with enable, disable and "send a test" for administrators (the API's services)."""

from __future__ import annotations

from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response

from librarian_client.models import WebhookUpdateRequest
from librarian_server.api.deps import SessionDep, SessionFactoryDep, SettingsDep
from librarian_server.api.params import no_nul_in_url
from librarian_server.errors import LibrarianError
from librarian_server.services.core import webhook_delivery, webhooks
from librarian_server.services.core.credentials import CredentialBox
from librarian_server.ui.accounts import Switch
from librarian_server.ui.operations import act
from librarian_server.ui.render import PREFIX, outcome, page
from librarian_server.ui.session import AdminActing, Viewing

router = APIRouter(prefix=PREFIX, include_in_schema=False, dependencies=[Depends(no_nul_in_url)])

NamePath = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.-]+$")]
BACK = PREFIX + "/webhooks"


@router.get("/webhooks")
def webhooks_page(request: Request, who: Viewing, session: SessionDep) -> Response:
    return page(
        request,
        who,
        "webhooks.html",
        title="Webhooks",
        refresh=10,
        hooks=webhooks.list_all(session),
    )


@router.post("/webhooks/{name}/test")
async def send_test(
    request: Request,
    name: NamePath,
    who: AdminActing,
    factory: SessionFactoryDep,
    settings: SettingsDep,
) -> Response:
    box = CredentialBox.for_settings(settings)
    try:
        result = await to_thread.run_sync(
            webhook_delivery.send_test, factory, name, box, settings.webhooks
        )
    except LibrarianError as exc:
        return outcome(
            request, who, ok=False, message=exc.reason, back=BACK, status=exc.status_code
        )
    if result.delivered:
        return outcome(
            request, who, ok=True, message=f"The receiver took {result.delivery}.", back=BACK
        )
    return outcome(
        request, who, ok=False, message=f"Not delivered: {result.error}.", back=BACK, status=502
    )


# Last: its {switch} would otherwise take the paths of the actions above.
@router.post("/webhooks/{name}/{switch}")
async def enable_or_disable(
    request: Request, name: NamePath, switch: Switch, who: AdminActing, factory: SessionFactoryDep
) -> Response:
    """A disabled subscription keeps its place in the log and catches up when enabled."""
    change = WebhookUpdateRequest(enabled=switch is Switch.ENABLE)
    return await act(
        request,
        who,
        factory,
        lambda s: webhooks.update(s, name, change, actor=who.user.name),
        lambda h: f"{h.name} is {switch.value}d (its place in the log: event {h.cursor}).",
        back=BACK,
    )
