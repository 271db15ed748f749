"""Staging jobs: bring files that a site keeps only on tape back onto its disks.

A mixin of ``LibrarianClient``; it relies only on the client's ``_call``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from librarian_client import models
from librarian_client.limits import API_PREFIX as API

if TYPE_CHECKING:
    from pydantic import BaseModel

M = TypeVar("M", bound="BaseModel")


class StagingMixin:
    def _call(self, model: type[M], method: str, path: str, **kwargs: Any) -> M:
        raise NotImplementedError

    def stage(
        self,
        names: Iterable[str] = (),
        *,
        prefix: str | None = None,
        glob: str | None = None,
        notify_url: str | None = None,
        expires_in_seconds: float | None = None,
    ) -> models.StagingJobInfo:
        """Start a staging job for the named files (or a prefix, or a glob); the answer
        carries its id and, with ``notify_url``, the secret its notification is signed with."""
        request = models.StagingRequest(
            names=list(names),
            prefix=prefix,
            glob=glob,
            notify_url=notify_url,
            expires_in_seconds=expires_in_seconds,
        )
        body = request.model_dump(mode="json", exclude_defaults=True)
        return self._call(models.StagingJobInfo, "POST", f"{API}/staging", json=body)

    def staging_job(
        self, job_id: str, *, files: int = 0, after: str | None = None, state: str | None = None
    ) -> models.StagingJobInfo:
        """The job's state and counts, with a page of ``files`` of its files after ``after``."""
        params: dict[str, Any] = {"limit": files}
        if after is not None:
            params["after"] = after
        if state is not None:
            params["state"] = state
        return self._call(models.StagingJobInfo, "GET", f"{API}/staging/{job_id}", params=params)

    def staging_jobs(self, *, limit: int = 100) -> list[models.StagingJobInfo]:
        found = self._call(models.StagingJobList, "GET", f"{API}/staging", params={"limit": limit})
        return found.jobs

    def cancel_staging(self, job_id: str) -> models.StagingJobInfo:
        return self._call(models.StagingJobInfo, "DELETE", f"{API}/staging/{job_id}")

    def wait_staging(
        self,
        job_id: str,
        *,
        timeout: float | None = None,
        interval: float = 2.0,
        progress: Callable[[models.StagingJobInfo], None] | None = None,
    ) -> models.StagingJobInfo:
        """Poll the job until it is no longer pending (or ``timeout`` seconds pass)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            job = self.staging_job(job_id)
            if progress is not None:
                progress(job)
            if job.state != models.StagingJobState.PENDING:
                return job
            if deadline is not None and time.monotonic() >= deadline:
                return job
            time.sleep(interval)
