"""What the API and readers ask of the cold tier, each in its own transactions."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from librarian_client.models import StagedFileState, StagingJobInfo, StagingRequest
from librarian_server.errors import FileOffline
from librarian_server.services.accounts.auth import AuthenticatedUser
from librarian_server.services.catalogue import files
from librarian_server.services.catalogue.names import normalise
from librarian_server.services.cold import jobs
from librarian_server.services.cold.rounds import withdraw
from librarian_server.services.core.credentials import CredentialBox
from librarian_server.settings import ServerSettings

ANONYMOUS = "anonymous"


def submit(
    factory: sessionmaker[Session],
    request: StagingRequest,
    user: AuthenticatedUser,
    settings: ServerSettings,
    box: CredentialBox,
) -> StagingJobInfo:
    with factory.begin() as session:
        job = jobs.create_job(session, request, owner=user.name, settings=settings)
        job_id = job.id
    with factory() as session:
        return jobs.job_info(session, job_id, user, box, limit=0)


def cancel(
    factory: sessionmaker[Session],
    job_id: str,
    user: AuthenticatedUser,
    settings: ServerSettings,
    box: CredentialBox,
) -> StagingJobInfo:
    with factory.begin() as session:
        dropped = jobs.cancel_job(session, job_id, user, settings)
    withdraw(factory, dropped)
    with factory() as session:
        return jobs.job_info(session, job_id, user, box, limit=0)


def info(
    factory: sessionmaker[Session],
    job_id: str,
    user: AuthenticatedUser,
    box: CredentialBox,
    *,
    after: str | None,
    limit: int,
    state: StagedFileState | None,
) -> StagingJobInfo:
    with factory() as session:
        return jobs.job_info(session, job_id, user, box, after=after, limit=limit, state=state)


def download_or_stage(
    factory: sessionmaker[Session],
    name: str,
    reader: str | None,
    settings: ServerSettings,
    *,
    origin: str = "read",
) -> files.Download:
    """The file's bytes if a copy is on disk; else staging is started (or joined) for the
    reader and FileOffline names the job."""
    with factory() as session:
        try:
            return files.prepare_download(session, name)
        except FileOffline:
            pass
    with factory.begin() as session:
        job_id = jobs.stage_for_read(
            session, normalise(name), owner=reader or ANONYMOUS, settings=settings, origin=origin
        )
    raise jobs.offline_error(name, job_id)
