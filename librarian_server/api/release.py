"""Releasing space by a store's policy (admins): a page of candidates, judged or acted on."""

from __future__ import annotations

from fastapi import APIRouter

from librarian_client.models import ReleaseRequest, ReleaseResponse
from librarian_server.api.deps import Admin, RunnerDep, SessionFactoryDep, SettingsDep
from librarian_server.services.integrity.release import release_page
from librarian_server.services.replication.proofs import PeerProver

router = APIRouter(tags=["integrity"])


@router.post("/release", response_model=ReleaseResponse)
def release(
    body: ReleaseRequest,
    factory: SessionFactoryDep,
    settings: SettingsDep,
    runner: RunnerDep,
    user: Admin,
) -> ReleaseResponse:
    """The next ``limit`` copies the store's policy selects, each with why it may or may
    not go; without ``dry_run`` they are released (or moved) now. A delete asks the
    sites holding each file to prove their copies first, whether a dry run or not; it
    waits for them at most ``replication.request_proof_timeout_seconds`` (an HTTP
    client would give up on the long background timeout), and a copy whose proofs have
    not come by then is reported blocked, never counted."""
    return release_page(
        factory,
        body,
        site_name=settings.site_name,
        prover=PeerProver(
            factory,
            runner.dialer,
            settings,
            timeout=settings.replication.request_proof_timeout_seconds,
        ),
        by=f"release ({user.name})",
        min_free_bytes=settings.min_free_bytes,
    )
