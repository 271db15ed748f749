"""Proofs between sites: a peer asks this site to re-hash its copies of named files now.

Asynchronous: re-reading a thousand large files takes longer than any request may
wait, so the answer to a request is a job id, and the job's results are read later.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from librarian_client.models.common import Id, WireModel
from librarian_client.models.integrity import Finding

MAX_PROOF_FILES = 1000
"""Files one proof job re-hashes; a prover splits larger sets into several jobs."""


class ProofState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"


class ProofRequest(WireModel):
    names: list[str] = Field(min_length=1, max_length=MAX_PROOF_FILES)


class CopyProof(WireModel):
    """What this site found for one named file when it re-read its copies just now."""

    name: str
    held: bool = Field(description="This site holds a copy that hashed right just now.")
    finding: Finding = Field(
        description="ok when a copy is good; else what was wrong (missing: no copy here)."
    )
    catalogued: bool = Field(description="The file is in this site's catalogue at all.")
    size: int | None = None
    checksum: str | None = Field(
        default=None, description="The checksum this site's catalogue holds for the file."
    )
    verified_time: datetime | None = Field(
        default=None, description="When the good copy was re-hashed (None without one)."
    )
    detail: str = ""


class ProofJobInfo(WireModel):
    id: Id
    state: ProofState
    caller: str
    site: str | None = Field(
        default=None,
        description="The answering site's own name: a caller that reaches one site under "
        "two names must not count its copy twice.",
    )
    files: int = Field(description="How many files the job names.")
    created_time: datetime
    finished_time: datetime | None = None
    results: list[CopyProof] | None = Field(
        default=None, description="Per named file, in the order asked; once done."
    )
