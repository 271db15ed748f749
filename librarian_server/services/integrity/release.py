"""Running a store's policy: one page of candidates, judged and (unless a dry run) acted on.

A delete never rests on the catalogue. The sites the catalogue names are asked, by
the injected ``CopyProver`` and outside any transaction, to re-hash their copies now;
then, per file, one short transaction takes the file's lock (``locks.lock_file``) and
checks again what the decision rests on: our copy is still there, the proven sites
still hold it per the catalogue, and (unless the policy allows a remote-only file)
another usable copy stays at this site. Two passes at once therefore cannot both
delete a file's last copies here: the second waits for the lock and then finds the
first one's work. The file keeps its catalogue row and its RemoteInstance rows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from librarian_client.models import (
    ReleaseAction,
    ReleaseCandidate,
    ReleaseRequest,
    ReleaseResponse,
)
from librarian_server.orm import Event, Instance, ReleasePolicy, RemoteInstance, Store, utcnow
from librarian_server.services.catalogue.copies import usable
from librarian_server.services.catalogue.stores import (
    add_used_bytes,
    delete_after_commit,
    get_store,
)
from librarian_server.services.integrity.locks import lock_file
from librarian_server.services.integrity.policies import require_policy
from librarian_server.services.integrity.release_plan import (
    Candidate,
    candidates,
    decode_cursor,
    encode_cursor,
    judge_proofs,
    names_by_site,
)
from librarian_server.services.integrity.sources import CopyProver
from librarian_server.services.integrity.tiering import move_copy

log = logging.getLogger(__name__)

Progress = Callable[[Candidate], None]
"""Told of each candidate once it has been acted on."""


@dataclass(frozen=True)
class _Policy:
    store_id: int
    store_name: str
    action: ReleaseAction
    target_store_id: int | None
    min_copies: int
    proof_age_days: int
    allow_remote_only: bool


def release_page(
    factory: sessionmaker[Session],
    request: ReleaseRequest,
    *,
    site_name: str,
    prover: CopyProver | None,
    by: str = "release",
    min_free_bytes: int = 0,
    progress: Progress | None = None,
) -> ReleaseResponse:
    """Judge the next ``request.limit`` candidates on the store; release them unless
    ``dry_run``. A delete policy with no prover releases nothing (and says so)."""
    after = decode_cursor(request.after)
    with factory() as session:
        store = get_store(session, request.store)
        row = require_policy(session, store)
        policy = _snapshot(row)
        found = candidates(
            session, store, row, site_name=site_name, after=after, limit=request.limit
        )
    asked = names_by_site(found) if policy.action is ReleaseAction.DELETE else {}
    if asked and prover is None:
        for c in found:
            if c.ask:
                c.ask, c.reason = False, "blocked: no way to ask other sites for proofs"
    elif asked and prover is not None:
        proofs = prover.prove(asked)  # a network call: no session open
        judge_proofs(
            found, proofs, min_copies=policy.min_copies, proof_age_days=policy.proof_age_days
        )
    released: list[Candidate] = []
    if not request.dry_run:
        for c in found:
            if c.releasable and _act(factory, c, policy, by=by, min_free_bytes=min_free_bytes):
                released.append(c)
            if progress is not None:
                progress(c)
    done = {c.instance_id for c in released}
    return ReleaseResponse(
        store=policy.store_name,
        action=policy.action,
        dry_run=request.dry_run,
        candidates=[_wire(c, c.instance_id in done) for c in found],
        released=len(released),
        released_bytes=sum(c.size for c in released),
        next=encode_cursor((found[-1].created_time, found[-1].instance_id))
        if len(found) == request.limit
        else None,
    )


def _snapshot(row: ReleasePolicy) -> _Policy:
    return _Policy(
        row.store_id,
        row.store.name,
        row.action,
        row.target_store_id,
        row.min_copies or 1,
        row.proof_age_days or 0,
        row.allow_remote_only,
    )


def _wire(c: Candidate, released: bool) -> ReleaseCandidate:
    return ReleaseCandidate(
        name=c.name,
        instance_id=c.instance_id,
        size=c.size,
        created_time=c.created_time,
        releasable=c.releasable,
        released=released,
        reason=c.reason,
        sites=c.sites,
    )


def _act(
    factory: sessionmaker[Session],
    c: Candidate,
    policy: _Policy,
    *,
    by: str,
    min_free_bytes: int,
) -> bool:
    """Release (or move) one copy; True when it went. ``c`` is told the outcome."""
    if policy.action is ReleaseAction.MOVE:
        target = policy.target_store_id or 0
        outcome = move_copy(factory, c.instance_id, target, by=by, min_free_bytes=min_free_bytes)
        c.releasable, c.reason = outcome.moved, outcome.reason
    else:
        c.releasable, c.reason = release_copy(factory, c, policy, by=by)
    return c.releasable


def release_copy(
    factory: sessionmaker[Session], c: Candidate, policy: _Policy, *, by: str
) -> tuple[bool, str]:
    """Delete this store's copy of ``c`` if, under the file's lock, it still may go;
    whether it went, and why (not)."""
    with factory.begin() as session:
        if not lock_file(session, c.name):
            return False, "gone: the file was deleted meanwhile"
        instance = session.get(Instance, c.instance_id)
        if instance is None or instance.store_id != policy.store_id:
            return False, "gone: released or moved meanwhile"
        still = set(
            session.scalars(
                select(RemoteInstance.site).where(
                    RemoteInstance.file_name == c.name, RemoteInstance.site.in_(c.sites)
                )
            )
        )
        proven = [s for s in c.sites if s in still]
        if len(proven) < policy.min_copies:
            return False, f"blocked: only {len(proven)} of the proven sites still hold it"
        others = session.scalar(
            select(func.count(Instance.id)).where(
                Instance.file_name == c.name, Instance.id != c.instance_id, usable()
            )
        )
        if not others and not policy.allow_remote_only:
            return False, "blocked: the last copy at this site (the policy keeps it)"
        store = session.get_one(Store, policy.store_id)
        session.execute(delete(Instance).where(Instance.id == c.instance_id))
        add_used_bytes(session, {policy.store_id: -c.size})
        session.add(
            Event(
                time=utcnow(),
                kind="copy.released",
                actor=by,
                subject=c.name,
                detail={
                    "store": policy.store_name,
                    "size": c.size,
                    "proven_by": proven,
                    "copies_left_here": int(others or 0),
                },
            )
        )
        delete_after_commit(session, [(store, instance.path)])
    log.info("released %r from store %s: proven by %s", c.name, policy.store_name, proven)
    return True, f"released: {len(proven)} verified copies elsewhere: {', '.join(proven)}"
