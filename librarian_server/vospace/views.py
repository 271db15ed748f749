"""Jobs as the UWS documents show them: times in ISO 8601, links under the service's URL."""

from __future__ import annotations

from datetime import UTC, datetime

from librarian_server.orm import VOSpaceJob
from librarian_server.services.vospace.model import JobView, ResultRef, TransferDoc


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


def href(base_url: str, job_id: str) -> str:
    return f"{base_url}/transfers/{job_id}"


def parameters(transfer: TransferDoc) -> list[tuple[str, str]]:
    params = [("target", transfer.target), ("direction", transfer.direction)]
    if transfer.view:
        params.append(("view", transfer.view))
    params += [("protocol", p.uri) for p in transfer.protocols]
    if transfer.keep_bytes is not None:
        params.append(("keepBytes", "true" if transfer.keep_bytes else "false"))
    return params


def view(job: VOSpaceJob, base_url: str) -> JobView:
    transfer = TransferDoc.from_json(job.request)
    link = href(base_url, job.id)
    return JobView(
        id=job.id,
        href=link,
        phase=job.phase.value,
        owner=job.owner,
        run_id=job.run_id,
        created=iso(job.created_time) or "",
        started=iso(job.start_time),
        ended=iso(job.end_time),
        execution_duration=job.execution_duration,
        destruction=iso(job.destruction_time) or "",
        parameters=parameters(transfer),
        results=[
            ResultRef(r["id"], link + r["href"] if r["href"].startswith("/") else r["href"])
            for r in job.results
        ],
        error_fault=job.error_fault,
        error_message=job.error_message,
        transfer=transfer,
    )
