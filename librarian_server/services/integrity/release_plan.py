"""Which copies on a store its policy selects, and why each may or may not be released.

The walk is keyset-paged over ``ix_instances_store_age`` (store, created time, id), so a
page costs the same at the millionth copy as at the first, and nothing loads the whole
store. For each page, two indexed look-ups by name (other sites that hold each file
per the catalogue, other stores here with a usable copy) give the catalogue's view.
The catalogue's view is never enough to delete: a delete verdict only says whom to ask,
and ``judge_proofs`` decides on what those sites answer now.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from librarian_client.models import CopyState, ReleaseAction
from librarian_server.errors import InvalidRequest
from librarian_server.orm import File, Instance, ReleasePolicy, RemoteInstance, Store, utcnow
from librarian_server.services.catalogue.copies import usable
from librarian_server.services.core.sql import in_chunks
from librarian_server.services.integrity.sources import Proof

Cursor = tuple[datetime, int]
PROOF_CLOCK_SKEW = timedelta(minutes=5)
"""A proof may claim a re-hash this far in our future (clocks differ); no further."""


@dataclass
class Candidate:
    """One copy the policy's age selects, with what the catalogue says about its file."""

    instance_id: int
    name: str
    size: int
    checksum: str
    created_time: datetime
    path: str
    bad: bool
    holders: list[str] = field(default_factory=list)  # other sites, per the catalogue
    other_local: list[str] = field(default_factory=list)  # other stores here, usable copy
    releasable: bool = False
    ask: bool = False  # a delete that waits on proofs
    reason: str = ""
    sites: list[str] = field(default_factory=list)


def encode_cursor(cursor: Cursor) -> str:
    return f"{cursor[0].isoformat()}|{cursor[1]}"


def decode_cursor(text: str | None) -> Cursor | None:
    if not text:
        return None
    try:
        when, _, ident = text.rpartition("|")
        return datetime.fromisoformat(when), int(ident)
    except ValueError:
        raise InvalidRequest(f"Not a release cursor: {text!r}.", "Pass a page's `next`.") from None


def candidates(
    session: Session,
    store: Store,
    policy: ReleasePolicy,
    *,
    site_name: str,
    after: Cursor | None,
    limit: int,
    now: datetime | None = None,
) -> list[Candidate]:
    """The next ``limit`` copies on ``store`` older than the policy's age, oldest first,
    each with its catalogue verdict (``releasable``, ``ask`` or blocked, and why)."""
    cutoff = (now or utcnow()) - timedelta(days=policy.after_days)
    query = (
        select(
            Instance.id,
            Instance.file_name,
            File.size,
            File.checksum,
            Instance.created_time,
            Instance.path,
            Instance.verified_result,
        )
        .join(File, File.name == Instance.file_name)
        .where(Instance.store_id == store.id, Instance.created_time < cutoff)
        .order_by(Instance.created_time, Instance.id)
        .limit(limit)
    )
    if after is not None:
        query = query.where(tuple_(Instance.created_time, Instance.id) > tuple_(*after))
    found = [
        Candidate(i, name, size, checksum, created, path, result is CopyState.BAD)
        for i, name, size, checksum, created, path, result in session.execute(query)
    ]
    _add_catalogue_facts(session, found, store.id, site_name)
    for candidate in found:
        _judge_catalogue(candidate, policy)
    return found


def _add_catalogue_facts(
    session: Session, found: list[Candidate], store_id: int, site_name: str
) -> None:
    by_name: dict[str, list[Candidate]] = {}
    for candidate in found:
        by_name.setdefault(candidate.name, []).append(candidate)
    for chunk in in_chunks(list(by_name)):
        for name, site in session.execute(
            select(RemoteInstance.file_name, RemoteInstance.site)
            .where(RemoteInstance.file_name.in_(chunk), RemoteInstance.site != site_name)
            .order_by(RemoteInstance.site)
        ):
            for candidate in by_name[name]:
                candidate.holders.append(site)
        for name, store_name in session.execute(
            select(Instance.file_name, Store.name)
            .join(Store, Store.id == Instance.store_id)
            .where(Instance.file_name.in_(chunk), Instance.store_id != store_id, usable())
            .order_by(Store.name)
        ):
            for candidate in by_name[name]:
                candidate.other_local.append(store_name)


def _judge_catalogue(c: Candidate, policy: ReleasePolicy) -> None:
    if c.bad:
        c.reason = "blocked: this copy failed verification; repair it first"
        return
    if policy.action is ReleaseAction.MOVE:
        target = policy.target_store.name if policy.target_store is not None else "?"
        c.releasable = True
        c.reason = (
            f"a verified copy is on {target} already; drop this one"
            if target in c.other_local
            else f"move to {target}"
        )
        return
    needed = policy.min_copies or 1
    if not c.other_local and not policy.allow_remote_only:
        c.reason = "blocked: the last copy at this site (the policy keeps it)"
        return
    if len(c.holders) < needed:
        held = f": {', '.join(c.holders)}" if c.holders else ""
        c.reason = (
            f"blocked: {len(c.holders)} other site(s) hold it per the catalogue{held}; "
            f"{needed} needed"
        )
        return
    c.ask = True
    c.reason = f"to be proven by {', '.join(c.holders)}"


def names_by_site(found: list[Candidate]) -> dict[str, list[str]]:
    """What to ask each site to prove: every holder of every delete that waits on proofs
    (all of them, so one site down need not block a file others hold)."""
    asked: dict[str, list[str]] = {}
    for c in found:
        if c.ask:
            for site in c.holders:
                asked.setdefault(site, []).append(c.name)
    return asked


def judge_proofs(
    found: list[Candidate],
    proofs: dict[tuple[str, str], Proof],
    *,
    min_copies: int,
    proof_age_days: int,
    now: datetime | None = None,
) -> None:
    """Settle each delete that waits on proofs: releasable only with ``min_copies``
    good proofs from distinct sites asked, each re-hashed within ``proof_age_days``.
    A site that is not asked, answers for another name, or is silent counts for nothing."""
    now = now or utcnow()
    oldest = now - timedelta(days=proof_age_days)
    needed = min_copies
    for c in found:
        if not c.ask:
            continue
        good: list[str] = []
        why_not: list[str] = []
        for site in c.holders:
            proof = proofs.get((site, c.name))
            verdict = _proof_verdict(proof, site, c.name, oldest, now)
            if verdict is None:
                good.append(site)
            else:  # a prover's own words may name the site already
                why_not.append(verdict if verdict.startswith(f"{site} ") else f"{site} {verdict}")
        c.ask = False
        c.sites = good
        if len(good) >= needed:
            c.releasable = True
            c.reason = f"{len(good)} verified copies elsewhere: {', '.join(good)}"
        else:
            shown = f" ({', '.join(good)})" if good else ""
            c.reason = f"blocked: only {len(good)} proof(s){shown}, {needed} needed; " + (
                "; ".join(why_not)
            )


def _proof_verdict(
    proof: Proof | None, site: str, name: str, oldest: datetime, now: datetime
) -> str | None:
    """None for a proof that counts, else what is wrong with it."""
    if proof is None:
        return "did not answer"
    if proof.site != site or proof.name != name:
        return "answered for another copy"
    if not proof.ok:
        return proof.detail or "could not prove its copy"
    if proof.verified_time is None:
        return "gave no re-hash time"
    if proof.verified_time < oldest:
        return f"last re-hashed {proof.verified_time:%Y-%m-%d %H:%M}, too long ago"
    if proof.verified_time > now + PROOF_CLOCK_SKEW:
        return "claims a re-hash in the future"
    return None
