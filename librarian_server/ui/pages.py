"""The dashboard's read-only pages: overview, search, stores, peers, files, errors, disks,
staging jobs. Each reads through the services and renders one template."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response

from librarian_client.models import MAX_ID, SearchQuery, StagingJobState
from librarian_server.api.deps import SessionDep, SettingsDep
from librarian_server.api.params import no_nul_in_url
from librarian_server.errors import LibrarianError
from librarian_server.orm import ErrorCategory, utcnow
from librarian_server.services.catalogue import files
from librarian_server.services.cold import jobs
from librarian_server.services.core.credentials import CredentialBox
from librarian_server.services.site import dashboard, stats
from librarian_server.services.sneakernet.disks import disks
from librarian_server.ui.charts import Bar, bar_chart
from librarian_server.ui.render import PREFIX, human_bytes, page
from librarian_server.ui.session import Refused, Viewing

router = APIRouter(prefix=PREFIX, include_in_schema=False, dependencies=[Depends(no_nul_in_url)])

GROWTH_DAYS = 30
Before = Annotated[int, Query(ge=0, le=MAX_ID)]
REFRESH = 10  # seconds between live refreshes of the pages that change by themselves


def day_bars(days: Sequence[stats.DayCount], what: str) -> list[Bar]:
    return [
        Bar(
            d.day.strftime("%d %b"),
            float(d.bytes),
            f"{d.day.isoformat()}: {d.files} file(s), {human_bytes(d.bytes)} {what}",
        )
        for d in days
    ]


def day_chart(days: Sequence[stats.DayCount], *, title: str, what: str) -> object:
    peak = max((d.bytes for d in days), default=0)
    return bar_chart(day_bars(days, what), title=title, scale=f"{human_bytes(peak)} a day")


def problem_rows(found: dashboard.Problems) -> list[tuple[str, int, str]]:
    """(what, how many, the page that lists them)."""
    return [
        ("Failed transfers", found.failed_transfers, "/transfers?state=FAILED"),
        ("Failed send batches", found.failed_batches, "/transfers?batches=FAILED#batches"),
        ("Open damage", found.open_damage, "/damage"),
        ("Overdue disks", found.overdue_disks, "/disks"),
        ("Stuck staging jobs", found.stuck_staging, "/staging"),
        ("Staging jobs failed (24 h)", found.failed_staging, "/staging"),
        ("Tasks whose last run failed", found.failed_tasks, "/tasks"),
        ("Errors in the last 24 h", found.recent_errors, "/errors"),
    ]


@router.get("")
def bare(request: Request) -> Response:
    return RedirectResponse(request.scope.get("root_path", "") + PREFIX + "/", status_code=307)


@router.get("/")
def overview(
    request: Request, who: Viewing, session: SessionDep, settings: SettingsDep
) -> Response:
    totals = stats.totals(session)
    growth = stats.growth(session, days=GROWTH_DAYS)
    found = dashboard.problems(session, settings)
    return page(
        request,
        who,
        "overview.html",
        title="Overview",
        refresh=REFRESH,
        totals=totals,
        added=sum(d.files for d in growth),
        added_bytes=sum(d.bytes for d in growth),
        chart=day_chart(
            growth, title=f"Bytes added per day, last {GROWTH_DAYS} days", what="added"
        ),
        problems=problem_rows(found),
        problem_total=found.total,
        days=GROWTH_DAYS,
    )


@router.get("/search")
def search(
    request: Request,
    who: Viewing,
    session: SessionDep,
    prefix: str = "",
    cursor: str = "",
) -> Response:
    error = None
    found = None
    try:
        found = files.search(
            session, SearchQuery(prefix=prefix or None, cursor=cursor or None, limit=100)
        )
    except LibrarianError as exc:
        error = exc.reason
    return page(
        request, who, "search.html", title="Search", prefix=prefix, found=found, error=error
    )


@router.get("/stores")
def store_page(
    request: Request, who: Viewing, session: SessionDep, settings: SettingsDep
) -> Response:
    return page(
        request,
        who,
        "stores.html",
        title="Stores",
        refresh=REFRESH * 3,
        stores=dashboard.store_rows(session, settings),
        audit_days=settings.integrity.audit_period_days,
    )


@router.get("/peers")
def peer_page(request: Request, who: Viewing, session: SessionDep) -> Response:
    rows = dashboard.peer_rows(session, days=GROWTH_DAYS)
    charts = {
        row.info.name: day_chart(
            row.throughput,
            title=f"Copies confirmed at {row.info.name} per day, last {GROWTH_DAYS} days",
            what="confirmed",
        )
        for row in rows
    }
    return page(
        request,
        who,
        "peers.html",
        title="Peers",
        refresh=REFRESH,
        peers=rows,
        charts=charts,
        days=GROWTH_DAYS,
    )


@router.get("/files/{name:path}")
def file_page(request: Request, name: str, who: Viewing, session: SessionDep) -> Response:
    try:
        view = dashboard.file_view(session, name)
    except LibrarianError as exc:
        raise Refused(exc.status_code, exc.reason) from None
    return page(request, who, "file.html", title=view.info.name, view=view)


@router.get("/errors")
def error_log(
    request: Request, who: Viewing, session: SessionDep, category: str = "", before: Before = 0
) -> Response:
    chosen = None
    if category:
        try:
            chosen = ErrorCategory(category)
        except ValueError:
            raise Refused(400, f"There is no error category {category!r}.") from None
    found = dashboard.error_page(session, category=chosen, before=before or None)
    return page(
        request,
        who,
        "errors.html",
        title="Errors",
        refresh=REFRESH,
        found=found,
        category=category,
        categories=[c.value for c in ErrorCategory],
    )


@router.get("/disks")
def disk_page(
    request: Request, who: Viewing, session: SessionDep, settings: SettingsDep
) -> Response:
    return page(
        request,
        who,
        "disks.html",
        title="Disks",
        refresh=REFRESH * 3,
        disks=disks(session, settings),
        overdue_days=settings.sneakernet.overdue_days,
    )


@router.get("/staging")
def staging_page(
    request: Request, who: Viewing, session: SessionDep, settings: SettingsDep
) -> Response:
    box = CredentialBox.for_settings(settings)
    listed = jobs.list_jobs(session, who.user, box, limit=200)
    stuck_before = utcnow() - dashboard.STUCK_STAGING
    now = utcnow()
    stuck = {
        j.id
        for j in listed
        if j.state is StagingJobState.PENDING
        and (j.created_time <= stuck_before or j.expires_time <= now)
    }
    return page(
        request,
        who,
        "staging.html",
        title="Staging jobs",
        refresh=REFRESH,
        jobs=listed,
        stuck=stuck,
        stuck_hours=dashboard.STUCK_STAGING / timedelta(hours=1),
    )
