"""Staging jobs: bring files that are only on a cold (tape) store back onto disk."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from librarian_client.models import (
    MAX_STAGING_PAGE,
    StagedFileState,
    StagingJobInfo,
    StagingJobList,
    StagingRequest,
)
from librarian_server.api.deps import Authenticated, SessionDep, SessionFactoryDep, SettingsDep
from librarian_server.services.cold import jobs, operations
from librarian_server.services.core.credentials import CredentialBox

router = APIRouter(prefix="/staging", tags=["staging"])

JobPath = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="A staging job's id.")]


@router.post("", response_model=StagingJobInfo, status_code=202)
def create(
    body: StagingRequest,
    factory: SessionFactoryDep,
    settings: SettingsDep,
    user: Authenticated,
) -> StagingJobInfo:
    """Start bringing the named files (a list, a prefix or a glob) onto disk; the answer
    is the job, whose ``notify_url`` (if given) is called once when it ends, signed with
    ``notify_secret``."""
    return operations.submit(factory, body, user, settings, CredentialBox.for_settings(settings))


@router.get("", response_model=StagingJobList)
def list_jobs(
    session: SessionDep,
    settings: SettingsDep,
    user: Authenticated,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> StagingJobList:
    """Your jobs (every job, for an admin), newest first, without their files."""
    box = CredentialBox.for_settings(settings)
    return StagingJobList(jobs=jobs.list_jobs(session, user, box, limit=limit))


@router.get("/{job_id}", response_model=StagingJobInfo)
def get(
    job_id: JobPath,
    factory: SessionFactoryDep,
    settings: SettingsDep,
    user: Authenticated,
    after: Annotated[str | None, Query(max_length=4096)] = None,
    limit: Annotated[int, Query(ge=0, le=MAX_STAGING_PAGE)] = 1000,
    state: StagedFileState | None = None,
) -> StagingJobInfo:
    """The job with its counts and a page of its files (``next_after`` pages on)."""
    box = CredentialBox.for_settings(settings)
    return operations.info(factory, job_id, user, box, after=after, limit=limit, state=state)


@router.delete("/{job_id}", response_model=StagingJobInfo)
def cancel(
    job_id: JobPath, factory: SessionFactoryDep, settings: SettingsDep, user: Authenticated
) -> StagingJobInfo:
    """Cancel the job; the tape system is asked to cancel only what no other job wants."""
    return operations.cancel(factory, job_id, user, settings, CredentialBox.for_settings(settings))
