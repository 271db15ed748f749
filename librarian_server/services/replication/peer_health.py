"""A peer's health: is it answering, and if not, when do we try it again.

A batch that fails because the peer as a whole cannot take it (unreachable, timed
out, a 5xx, credentials it refuses) says nothing about the files in it, so it
spends none of their attempts: the peer backs off instead, exponentially with
jitter and capped, and planning and sending skip it until its next attempt.
The files wait in the pool for that moment. Attempts are for what a file does
on its own (its bytes, its checksum, a 4xx about that file).
"""

from __future__ import annotations

import logging
import random
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from librarian_client.models import PeerHealth
from librarian_server.errors import PeerError
from librarian_server.orm import Peer, SendQueue, utcnow
from librarian_server.settings import ReplicationSettings

log = logging.getLogger(__name__)


def is_outage(exc: BaseException) -> bool:
    """Whether a batch failure is the peer's (back off the peer) or may be the files'."""
    return isinstance(exc, PeerError) and exc.peer_wide


def peer_backoff(failures: int, settings: ReplicationSettings) -> timedelta:
    """Base doubling per failure in a row, capped; less up to ``jitter`` of it at random."""
    seconds = settings.peer_backoff_seconds * 2 ** max(failures - 1, 0)
    seconds = min(seconds, settings.peer_backoff_max_seconds)
    seconds *= 1 - settings.peer_backoff_jitter * random.random()  # noqa: S311 - not security
    return timedelta(seconds=seconds)


def note_failure(
    factory: sessionmaker[Session], name: str, error: str, settings: ReplicationSettings
) -> datetime:
    """One more failure in a row: the peer's next attempt moves out. Returns it."""
    now = utcnow()
    with factory.begin() as session:
        peer = session.scalar(select(Peer).where(Peer.name == name).with_for_update())
        if peer is None:
            return now + peer_backoff(1, settings)
        peer.consecutive_failures += 1
        peer.last_error = error
        peer.next_attempt_after = now + peer_backoff(peer.consecutive_failures, settings)
        failures, after = peer.consecutive_failures, peer.next_attempt_after
    log.warning(
        "peer %s unreachable (%d failure(s) in a row), next attempt after %s: %s",
        name,
        failures,
        after.isoformat(timespec="seconds"),
        error,
    )
    return after


def note_healthy(factory: sessionmaker[Session], name: str) -> None:
    """The peer took a batch: it is healthy again and may be tried at once."""
    with factory.begin() as session:
        session.execute(
            update(Peer)
            .where(Peer.name == name)
            .values(
                last_contact=utcnow(),
                last_error=None,
                consecutive_failures=0,
                next_attempt_after=None,
            )
        )


def reachable(now: datetime) -> ColumnElement[bool]:
    """Peers not backing off at ``now`` (for queries over peers)."""
    return or_(Peer.next_attempt_after.is_(None), Peer.next_attempt_after <= now)


def queue_not_backing_off(now: datetime) -> ColumnElement[bool]:
    """Send queues whose peer may be tried at ``now`` (claims skip the others)."""
    waiting = select(Peer.name).where(~reachable(now))
    return SendQueue.destination.not_in(waiting)


def health(peer: Peer, now: datetime | None = None) -> PeerHealth:
    if not peer.enabled:
        return PeerHealth.DISABLED
    after = peer.next_attempt_after
    if after is not None and after > (now or utcnow()):
        return PeerHealth.BACKING_OFF
    return PeerHealth.FAILING if peer.consecutive_failures else PeerHealth.OK
