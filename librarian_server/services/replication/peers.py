"""Peer sites: registration, policy, who may speak for which site, and calling them."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import httpx
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from librarian_client.models import PeerInfo, PermissionLevel, TransferStatus
from librarian_server.errors import Conflict, InvalidRequest, NotFound, PermissionDenied
from librarian_server.orm import OUTGOING_LIVE, OutgoingTransfer, Peer, utcnow
from librarian_server.services.accounts.auth import AuthenticatedUser
from librarian_server.services.core.credentials import CredentialBox
from librarian_server.services.core.sql import execute_count
from librarian_server.services.replication.peer_health import health
from librarian_server.settings import ServerSettings
from librarian_server.transfer import KNOWN
from librarian_server.transfer.peer_client import PeerClient

SITE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_UNSET = object()


def _check_name(name: str) -> None:
    if not SITE_NAME.match(name):
        raise InvalidRequest(
            f"{name!r} is not a valid site name.",
            "Use up to 64 letters, digits, '.', '_' or '-', starting with a letter or digit.",
        )


def _check_url(url: str) -> str:
    if not re.match(r"^https?://[^/\s]+", url):
        raise InvalidRequest(f"{url!r} is not an http(s) URL.", "Give e.g. https://site:21108.")
    return url.rstrip("/")


def _check_managers(managers: Sequence[str]) -> list[str]:
    unknown = sorted(set(managers) - set(KNOWN))
    if unknown:
        raise InvalidRequest(
            f"Unknown transfer manager(s): {', '.join(unknown)}.",
            f"Choose from {', '.join(KNOWN)}.",
        )
    return list(dict.fromkeys(managers))


def add_peer(
    session: Session,
    *,
    name: str,
    url: str,
    username: str,
    password: str,
    box: CredentialBox,
    settings: ServerSettings,
    push: bool = True,
    forward: bool = False,
    name_glob: str | None = None,
    created_after: datetime | None = None,
    managers: Sequence[str] = (),
) -> Peer:
    _check_name(name)
    if name == settings.site_name:
        raise InvalidRequest(f"{name!r} is this site's own name.", "A site is not its own peer.")
    if session.scalar(select(Peer.id).where(Peer.name == name)) is not None:
        raise Conflict(f"Peer {name!r} already exists.", "Change it with `update-peer`.")
    if not password:
        raise InvalidRequest("The peer password is empty.")
    peer = Peer(
        name=name,
        url=_check_url(url),
        username=username,
        sealed_password=box.seal(password),
        push=push,
        forward=forward,
        push_name_glob=name_glob or None,
        push_created_after=created_after,
        transfer_managers=_check_managers(managers),
        enabled=True,
    )
    session.add(peer)
    session.flush()
    return peer


def update_peer(
    session: Session,
    name: str,
    *,
    box: CredentialBox,
    url: str | None = None,
    username: str | None = None,
    password: str | None = None,
    push: bool | None = None,
    forward: bool | None = None,
    enabled: bool | None = None,
    name_glob: str | object | None = _UNSET,
    created_after: datetime | object | None = _UNSET,
    managers: Sequence[str] | None = None,
) -> Peer:
    """Change only what is given; ``name_glob``/``created_after`` accept None to clear."""
    peer = get_peer(session, name)
    if url is not None:
        peer.url = _check_url(url)
    if username is not None:
        peer.username = username
    if password is not None:
        peer.sealed_password = box.seal(password)
    if push is not None:
        peer.push = push
    if forward is not None:
        peer.forward = forward
    if enabled is not None:
        peer.enabled = enabled
    if name_glob is not _UNSET:
        peer.push_name_glob = name_glob or None  # type: ignore[assignment]
    if created_after is not _UNSET:
        peer.push_created_after = created_after  # type: ignore[assignment]
    if managers is not None:
        peer.transfer_managers = _check_managers(managers)
    # What the peer should get may have changed: the next plan sweeps every file; and
    # a peer fixed by its operator (a new URL, say) is tried at once, not after a backoff.
    peer.planned_through = peer.swept_time = None
    peer.next_attempt_after = None
    session.flush()
    return peer


def remove_peer(session: Session, name: str) -> int:
    """Forget a peer; its live outgoing transfers are cancelled. Returns how many."""
    peer = get_peer(session, name)
    cancelled = execute_count(
        session,
        update(OutgoingTransfer)
        .where(OutgoingTransfer.destination == name, OutgoingTransfer.status.in_(OUTGOING_LIVE))
        .values(
            status=TransferStatus.CANCELLED,
            error="the peer was removed",
            updated_time=utcnow(),
        ),
    )
    session.delete(peer)
    session.flush()
    return cancelled


def get_peer(session: Session, name: str) -> Peer:
    peer = session.scalar(select(Peer).where(Peer.name == name))
    if peer is None:
        raise NotFound(f"No peer named {name!r}.", "`librarian-server peers` lists them.")
    return peer


def list_peers(session: Session) -> list[Peer]:
    return list(session.scalars(select(Peer).order_by(Peer.name)))


def peer_info(peer: Peer) -> PeerInfo:
    return PeerInfo.model_validate(peer).model_copy(update={"health": health(peer)})


@dataclass(frozen=True)
class PeerDialer:
    """Opens clients to peers: the one place a ``PeerClient`` is built.

    ``transport`` None is the network; sites run in one process (tests) give one that
    routes each call, by host, to the app of the site called.
    """

    settings: ServerSettings
    box: CredentialBox
    transport: httpx.BaseTransport | None = None

    @classmethod
    def for_settings(
        cls, settings: ServerSettings, transport: httpx.BaseTransport | None = None
    ) -> PeerDialer:
        return cls(settings, CredentialBox.for_settings(settings), transport)

    def open(self, peer: Peer) -> PeerClient:
        return PeerClient(
            peer.name,
            peer.url,
            peer.username,
            self.box.open(peer.sealed_password),
            timeout=self.settings.replication.peer_timeout_seconds,
            transport=self.transport,
        )


def check_caller(user: AuthenticatedUser, site: str) -> None:
    """A peer account speaks only for the site of the same name; an admin for any."""
    if user.permission is PermissionLevel.PEER and user.name != site:
        raise PermissionDenied(
            f"Peer account {user.name!r} may not act for site {site!r}.",
            "Give each peer an account named after its site (`librarian-server create-user "
            "SITE --level peer`).",
        )


def note_contact(factory: sessionmaker[Session], name: str, error: str | None = None) -> None:
    """Remember when a peer last answered, or why it did not."""
    values: dict[str, object] = {"last_error": error}
    if error is None:
        values["last_contact"] = utcnow()
    with factory.begin() as session:
        session.execute(update(Peer).where(Peer.name == name).values(**values))
