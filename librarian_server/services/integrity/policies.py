"""Release and tiering policies, one per store: what to do with copies older than D days.

``move`` sends them to another store of this site (tiering: a fast disk keeps the
recent files); ``delete`` drops them once ``min_copies`` other sites have just proven
theirs. Nothing here releases anything: see ``release`` for that.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from librarian_client.models import ReleaseAction
from librarian_server.errors import InvalidRequest, NotFound
from librarian_server.orm import ReleasePolicy, Store, utcnow
from librarian_server.services.catalogue.stores import get_store, policy_info

__all__ = ["clear_policy", "policies", "policy_info", "policy_of", "require_policy", "set_policy"]


def set_policy(
    session: Session,
    store_name: str,
    *,
    after_days: int,
    move_to: str | None = None,
    min_copies: int | None = None,
    proof_age_days: int | None = None,
    allow_remote_only: bool = False,
) -> ReleasePolicy:
    """Create or replace the store's policy: a move (``move_to``) or a delete (the rest)."""
    store = get_store(session, store_name)
    if after_days < 0:
        raise InvalidRequest("--after-days must not be negative.")
    target: Store | None = None
    if move_to is not None:
        if min_copies is not None or proof_age_days is not None or allow_remote_only:
            raise InvalidRequest(
                "A move policy takes no --copies, --proof-age-days or --allow-remote-only.",
                "Give either --move-to STORE or --delete with its options.",
            )
        target = get_store(session, move_to)
        if target.id == store.id:
            raise InvalidRequest("A store cannot move its copies to itself.")
        if target.retired:
            raise InvalidRequest(f"Store {move_to!r} is retired.", "Choose a store in service.")
    else:
        if min_copies is None or min_copies < 1:
            raise InvalidRequest(
                "A delete policy needs --copies N (N >= 1): the verified copies at other "
                "sites that must exist before this store's copy goes."
            )
        if proof_age_days is None or proof_age_days < 0:
            raise InvalidRequest(
                "A delete policy needs --proof-age-days V: how recently each site must "
                "have re-hashed its copy."
            )
    policy = session.scalar(select(ReleasePolicy).where(ReleasePolicy.store_id == store.id))
    if policy is None:
        policy = ReleasePolicy(store_id=store.id)
        session.add(policy)
    policy.after_days = after_days
    policy.action = ReleaseAction.MOVE if target is not None else ReleaseAction.DELETE
    policy.target_store_id = target.id if target is not None else None
    policy.min_copies = min_copies
    policy.proof_age_days = proof_age_days
    policy.allow_remote_only = allow_remote_only
    policy.updated_time = utcnow()
    session.flush()
    session.refresh(policy)
    return policy


def clear_policy(session: Session, store_name: str) -> bool:
    """Forget the store's policy; False when it had none."""
    store = get_store(session, store_name)
    policy = session.scalar(select(ReleasePolicy).where(ReleasePolicy.store_id == store.id))
    if policy is None:
        return False
    session.delete(policy)
    session.flush()
    return True


def policies(session: Session) -> list[ReleasePolicy]:
    return list(session.scalars(select(ReleasePolicy).order_by(ReleasePolicy.store_id)))


def policy_of(session: Session, store: Store) -> ReleasePolicy | None:
    return session.scalar(select(ReleasePolicy).where(ReleasePolicy.store_id == store.id))


def require_policy(session: Session, store: Store) -> ReleasePolicy:
    policy = policy_of(session, store)
    if policy is None:
        raise NotFound(
            f"Store {store.name!r} has no release policy.",
            "Set one with `librarian-server store-policy set`.",
        )
    return policy
