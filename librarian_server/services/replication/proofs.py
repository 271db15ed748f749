"""Asking peers to prove their copies: the ``CopyProver`` that release and repair use.

A peer's catalogue row is never proof; only the peer's fresh re-hash is. For each
peer the prover submits proof jobs (at most ``MAX_PROOF_FILES`` names each), polls
them until they are done or the timeout has passed (``replication.proof_timeout_seconds``
for background work; a request's caller passes a short one), and
judges each answer against this site's own catalogue: a copy counts only when the
peer holds one that hashed right just now *and* its catalogue agrees with ours on
the checksum. A peer must answer under the name it is asked by: one site reached
under two peer names (an operator's slip) proves one copy, not two. A peer that
cannot be reached, times out, answers as another site, or has forgotten the job
gives ``ok=False`` proofs that say why: silence never counts as a copy. A peer that
answers it has no good copy is no longer counted as a holder and is sent the file
again (``resend``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from librarian_client.models import MAX_PROOF_FILES, CopyProof, ProofState
from librarian_server.errors import PeerError
from librarian_server.orm import File, Peer
from librarian_server.services.core.sql import in_chunks
from librarian_server.services.integrity.sources import Proof
from librarian_server.services.replication.peers import PeerDialer, note_contact
from librarian_server.services.replication.resend import resend_lost
from librarian_server.settings import ServerSettings
from librarian_server.transfer.peer_client import PeerClient

log = logging.getLogger(__name__)


@dataclass
class _Job:
    site: str
    client: PeerClient
    names: list[str]
    job_id: int = 0
    done: bool = False
    results: list[CopyProof] = field(default_factory=list)


def _failed(site: str, names: Sequence[str], reason: str) -> dict[tuple[str, str], Proof]:
    return {(site, name): Proof(site, name, False, None, reason) for name in names}


class PeerProver:
    """``CopyProver`` over the peer protocol. ``timeout`` bounds the wait for every
    peer's answer (default ``replication.proof_timeout_seconds``). ``wait`` is how the
    prover sleeps between polls (tests pass one that runs the peers' ``prove_copies``
    task instead)."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        dialer: PeerDialer,
        settings: ServerSettings,
        *,
        wait: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        timeout: float | None = None,
    ) -> None:
        self.factory = factory
        self.dialer = dialer
        self.settings = settings
        self.wait = wait
        self.clock = clock
        self.timeout = timeout or settings.replication.proof_timeout_seconds

    def prove(self, names_by_site: Mapping[str, Sequence[str]]) -> dict[tuple[str, str], Proof]:
        proofs: dict[tuple[str, str], Proof] = {}
        wanted = {site: list(dict.fromkeys(names)) for site, names in names_by_site.items()}
        with ExitStack() as stack:
            jobs: list[_Job] = []
            peers = self._peers(list(wanted))
            for site, names in wanted.items():
                peer = peers.get(site)
                if peer is None:
                    proofs.update(_failed(site, names, f"{site} is not an enabled peer here"))
                    continue
                client = stack.enter_context(self.dialer.open(peer))
                submitted, failures = self._submit(site, client, names)
                jobs.extend(submitted)
                proofs.update(failures)
            proofs.update(self._await(jobs))
            proofs.update(self._judge(jobs))
        return proofs

    def _peers(self, sites: list[str]) -> dict[str, Peer]:
        with self.factory() as session:
            found = {
                p.name: p
                for p in session.scalars(select(Peer).where(Peer.name.in_(sites), Peer.enabled))
            }
            session.expunge_all()
        return found

    def _submit(
        self, site: str, client: PeerClient, names: list[str]
    ) -> tuple[list[_Job], dict[tuple[str, str], Proof]]:
        jobs: list[_Job] = []
        for start in range(0, len(names), MAX_PROOF_FILES):
            chunk = names[start : start + MAX_PROOF_FILES]
            try:
                info = client.request_proof(chunk)
            except PeerError as exc:
                note_contact(self.factory, site, str(exc))
                # The peer is gone: any job it took already is left to expire there.
                return [], _failed(site, names, f"{site} could not be asked: {exc}")
            note_contact(self.factory, site)
            if info.site != site:
                # Another site's bytes, already asked (or to be) under their own name.
                who = info.site or "a site that gives no name"
                return [], _failed(site, names, f"{site} answered as {who}")
            jobs.append(_Job(site, client, chunk, info.id))
        return jobs, {}

    def _await(self, jobs: list[_Job]) -> dict[tuple[str, str], Proof]:
        """Poll until every job is done; the jobs that fail or run out of time are
        answered here, the done ones keep their results for ``_judge``."""
        failed: dict[tuple[str, str], Proof] = {}
        timeout = self.timeout
        deadline = self.clock() + timeout
        pending = list(jobs)
        while pending:
            still: list[_Job] = []
            for job in pending:
                try:
                    info = job.client.proof_status(job.job_id)
                except PeerError as exc:
                    note_contact(self.factory, job.site, str(exc))
                    reason = (
                        f"{job.site} no longer knows proof job {job.job_id}"
                        if exc.peer_status == 404
                        else f"{job.site} could not be asked about its proof: {exc}"
                    )
                    failed.update(_failed(job.site, job.names, reason))
                    continue
                note_contact(self.factory, job.site)
                if info.state is ProofState.DONE:
                    job.done, job.results = True, list(info.results or [])
                else:
                    still.append(job)
            pending = still
            left = deadline - self.clock()
            if pending and left <= 0:
                for job in pending:
                    reason = f"{job.site} did not answer within {timeout:g} s"
                    failed.update(_failed(job.site, job.names, reason))
                break
            if pending:
                self.wait(min(self.settings.replication.proof_poll_seconds, left))
        return failed

    def _judge(self, jobs: list[_Job]) -> dict[tuple[str, str], Proof]:
        """Each finished answer against our own catalogue; peers proven to lack a file
        are sent it again."""
        jobs = [job for job in jobs if job.done]
        names = {name for job in jobs for name in job.names}
        with self.factory() as session:
            ours: dict[str, str] = {}
            for chunk in in_chunks(names):
                rows = session.execute(select(File.name, File.checksum).where(File.name.in_(chunk)))
                ours.update((name, checksum) for name, checksum in rows)
        proofs: dict[tuple[str, str], Proof] = {}
        lost: dict[str, list[str]] = {}
        for job in jobs:
            answers = {r.name: r for r in job.results}
            for name in job.names:
                answer = answers.get(name)
                proofs[(job.site, name)] = proof = _proof(job.site, name, answer, ours.get(name))
                if answer is not None and not answer.held and not proof.ok:
                    lost.setdefault(job.site, []).append(name)
        if lost:
            resend_lost(self.factory, self.settings, lost)
        return proofs


def _proof(site: str, name: str, answer: CopyProof | None, checksum: str | None) -> Proof:
    if answer is None:
        return Proof(site, name, False, None, f"{site}'s proof did not mention {name!r}")
    if not answer.held:
        detail = answer.detail or f"{site} found its copy {answer.finding}"
        return Proof(site, name, False, None, f"{answer.finding}: {detail}")
    if checksum is not None and answer.checksum != checksum:
        return Proof(
            site,
            name,
            False,
            None,
            f"{site} catalogues {name!r} as {answer.checksum}, this site as {checksum}",
        )
    return Proof(site, name, True, answer.verified_time, answer.detail)
