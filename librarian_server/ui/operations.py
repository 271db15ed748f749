"""The pages with actions: transfers (retry, cancel), tasks (run now), damage (repair).

Actions are administrators' and POSTs with the session's CSRF token (``AdminActing``);
each calls the same service as its API twin, in a transaction of its own, and says
what came of it.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Annotated, TypeVar

from anyio import to_thread
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session, sessionmaker

from librarian_client.models import (
    MAX_ID,
    DamageQuery,
    Direction,
    TransferStatus,
)
from librarian_server.api.deps import (
    RunnerDep,
    SessionDep,
    SessionFactoryDep,
    SettingsDep,
)
from librarian_server.api.params import TransferIdPath, no_nul_in_url
from librarian_server.errors import LibrarianError
from librarian_server.orm import QueueStatus
from librarian_server.services.integrity import damage
from librarian_server.services.integrity.repair import repair_damage
from librarian_server.services.replication import transfer_admin
from librarian_server.services.site import dashboard, stats
from librarian_server.services.site.upkeep import repair_retry, repair_sources
from librarian_server.ui.render import PREFIX, outcome, page
from librarian_server.ui.session import AdminActing, Refused, Viewer, Viewing

router = APIRouter(prefix=PREFIX, include_in_schema=False, dependencies=[Depends(no_nul_in_url)])

PAGE = 50
REFRESH = 5
E = TypeVar("E", bound=StrEnum)
T = TypeVar("T")
IdPath = Annotated[int, Query(ge=0, le=MAX_ID)]


def _choice(kind: type[E], value: str, what: str) -> E | None:
    if not value:
        return None
    try:
        return kind(value)
    except ValueError:
        choices = ", ".join(v.value for v in kind)
        raise Refused(400, f"{value!r} is not a {what}; choose from {choices}.") from None


async def act(
    request: Request,
    who: Viewer,
    factory: sessionmaker[Session],
    work: Callable[[Session], T],
    say: Callable[[T], str],
    *,
    back: str,
) -> Response:
    """Run ``work`` in a transaction of its own; a refusal rolls it back and is shown."""

    def run() -> T:
        with factory.begin() as session:
            return work(session)

    try:
        done = await to_thread.run_sync(run)
    except LibrarianError as exc:
        return outcome(
            request, who, ok=False, message=exc.reason, back=back, status=exc.status_code
        )
    return outcome(request, who, ok=True, message=say(done), back=back)


@router.get("/transfers")
def transfers(
    request: Request,
    who: Viewing,
    session: SessionDep,
    direction: str = "outgoing",
    state: str = "",
    peer: str = "",
    cursor: str = "",
    batches: str = "",
) -> Response:
    way = _choice(Direction, direction, "direction") or Direction.OUTGOING
    status = _choice(TransferStatus, state, "transfer state")
    batch_state = _choice(QueueStatus, batches, "batch state")
    error = None
    try:
        listed = transfer_admin.list_transfers(
            session,
            direction=way,
            status=status,
            peer=peer or None,
            limit=PAGE,
            cursor=cursor or None,
        )
    except LibrarianError as exc:
        error = exc.reason
        listed = transfer_admin.list_transfers(session, direction=way, limit=PAGE)
    return page(
        request,
        who,
        "transfers.html",
        title="Transfers",
        refresh=REFRESH,
        listed=listed,
        error=error,
        counts=dashboard.transfer_counts(session, outgoing=way is Direction.OUTGOING),
        queues=transfer_admin.list_queues(
            session, status=batch_state, peer=peer or None, limit=PAGE
        ),
        peers=dashboard.peer_names(session),
        statuses=[s.value for s in TransferStatus],
        queue_statuses=[s.value for s in QueueStatus],
        direction=way.value,
        state=state,
        peer=peer,
        cursor=cursor,
        batches=batches,
        outgoing=way is Direction.OUTGOING,
        retryable={TransferStatus.FAILED, TransferStatus.CANCELLED},
        cancellable={
            TransferStatus.INITIATED,
            TransferStatus.STAGED,
            TransferStatus.ONGOING,
            TransferStatus.STAGED_AT_DEST,
        },
    )


@router.post("/transfers/{transfer_id}/retry")
async def retry(
    request: Request, transfer_id: TransferIdPath, who: AdminActing, factory: SessionFactoryDep
) -> Response:
    return await act(
        request,
        who,
        factory,
        lambda s: transfer_admin.retry_outgoing(s, transfer_id),
        lambda r: f"Transfer {r.id} is {r.status.value} again: it goes with the next batch.",
        back=PREFIX + "/transfers",
    )


@router.post("/transfers/{transfer_id}/cancel")
async def cancel(
    request: Request, transfer_id: TransferIdPath, who: AdminActing, factory: SessionFactoryDep
) -> Response:
    return await act(
        request,
        who,
        factory,
        lambda s: transfer_admin.cancel_outgoing(s, transfer_id, by=who.user.name),
        lambda r: f"Transfer {r.id} is {r.status.value}.",
        back=PREFIX + "/transfers",
    )


@router.get("/tasks")
def tasks(request: Request, who: Viewing, session: SessionDep, settings: SettingsDep) -> Response:
    return page(
        request,
        who,
        "tasks.html",
        title="Background tasks",
        refresh=REFRESH * 2,
        tasks=stats.task_states(session, settings),
        in_server=settings.background.in_server,
    )


@router.post("/tasks/{name}/run")
async def run_task(request: Request, name: str, who: AdminActing, runner: RunnerDep) -> Response:
    """Like POST /tasks/{name}/run of the API: run it here, now, and wait for it."""
    back = PREFIX + "/tasks"
    try:
        result = await to_thread.run_sync(runner.run_task, name)
    except LibrarianError as exc:
        return outcome(
            request, who, ok=False, message=exc.reason, back=back, status=exc.status_code
        )
    if not result.ok:
        return outcome(
            request, who, ok=False, message=f"{name} failed: {result.error}", back=back, status=500
        )
    done = ", ".join(f"{k} {v}" for k, v in result.summary.items() if v) or "nothing to do"
    return outcome(
        request, who, ok=True, message=f"{name} ran in {result.seconds:.2f} s: {done}.", back=back
    )


@router.get("/damage")
def damage_page(
    request: Request, who: Viewing, session: SessionDep, show: str = "active", after: IdPath = 0
) -> Response:
    query = DamageQuery(active=True if show != "all" else None, after=after or None, limit=PAGE)
    return page(
        request,
        who,
        "damage.html",
        title="Damage",
        refresh=REFRESH * 2,
        found=damage.list_damage(session, query),
        show=show,
    )


@router.post("/damage/{damage_id}/repair")
async def repair(
    request: Request,
    damage_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    who: AdminActing,
    factory: SessionFactoryDep,
    settings: SettingsDep,
    runner: RunnerDep,
) -> Response:
    back = PREFIX + "/damage"

    def work() -> str:
        info = repair_damage(
            factory,
            damage_id,
            repair_sources(factory, runner.dialer, settings),
            retry_after=repair_retry(settings),
            by=f"repair ({who.user.name})",
        )
        said = f": {info.resolution}" if info.resolution else ""
        return f"Damage {info.id} is {info.state.value}{said}."

    try:
        message = await to_thread.run_sync(work)
    except LibrarianError as exc:
        return outcome(
            request, who, ok=False, message=exc.reason, back=back, status=exc.status_code
        )
    return outcome(request, who, ok=True, message=message, back=back)
