"""Proofs between sites: a peer (or an admin) asks this site to re-hash its copies now."""

from __future__ import annotations

from fastapi import APIRouter

from librarian_client.models import ProofJobInfo, ProofRequest
from librarian_server.api.deps import Peer, SessionDep, SettingsDep
from librarian_server.api.params import ProofIdPath
from librarian_server.services.integrity import proof_jobs

router = APIRouter(prefix="/proofs", tags=["integrity"])


@router.post("", response_model=ProofJobInfo, status_code=202)
def request_proof(
    body: ProofRequest, session: SessionDep, settings: SettingsDep, user: Peer
) -> ProofJobInfo:
    """Queue a job that re-hashes every copy here of the named files; read it by id.
    The answer names this site, so the caller can tell one site from two."""
    info = proof_jobs.submit(session, body, user=user)
    return info.model_copy(update={"site": settings.site_name})


@router.get("/{job_id}", response_model=ProofJobInfo)
def proof_status(
    job_id: ProofIdPath, session: SessionDep, settings: SettingsDep, user: Peer
) -> ProofJobInfo:
    """The job's state and, once done, what was found for each file (its caller's only)."""
    info = proof_jobs.job_info(session, job_id, user=user)
    return info.model_copy(update={"site": settings.site_name})
