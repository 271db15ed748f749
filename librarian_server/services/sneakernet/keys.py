"""The keys that sign and verify disks, from the password two peer sites share.

The source signs a disk for ``peer`` with the password hash of its account named
``peer`` (the account the peer calls back with); the destination verifies with the
password it holds, sealed, for calling the source. See ``sneakernet/signing.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from librarian_server.errors import InvalidRequest
from librarian_server.orm import Peer, User
from librarian_server.services.core.credentials import CredentialBox
from librarian_server.services.sneakernet.disk import DiskHeader
from librarian_server.services.sneakernet.signing import (
    DiskKeySpec,
    SigningError,
    disk_key,
    from_password,
)
from librarian_server.services.sneakernet.signing import from_stored_hash as spec_from_hash


def _account(session: Session, peer: str) -> User:
    user = session.scalar(select(User).where(User.name == peer))
    if user is None:
        raise InvalidRequest(
            f"This site has no account named {peer!r}: a disk for {peer} is signed with the "
            f"password {peer} uses to call here, and {peer} needs that account to confirm "
            "the copies.",
            f"Create it (`librarian-server create-user {peer} --level peer --password-file F`)"
            f" and set the same password for this site at {peer} (`update-peer`).",
        )
    return user


def check_account(session: Session, peer: str) -> None:
    """Refuse an export before it starts if the disk could not be signed."""
    _account(session, peer)


@dataclass(frozen=True)
class ExportKey:
    spec: DiskKeySpec
    key: bytes


def export_key(session: Session, *, source: str, peer: str, label: str) -> ExportKey:
    user = _account(session, peer)
    try:
        spec, secret = spec_from_hash(user.name, user.password_hash)
    except SigningError as exc:
        raise InvalidRequest(f"Cannot sign a disk for {peer}: {exc}.") from None
    return ExportKey(spec, disk_key(secret, source=source, destination=peer, label=label))


def ingest_key(session: Session, header: DiskHeader, box: CredentialBox) -> bytes | str:
    """The key that should have signed this disk, or why there is none to check with."""
    spec = header.key
    if spec is None:
        return "unsigned: its manifest carries no signature"
    peer = session.scalar(select(Peer).where(Peer.name == header.source))
    if peer is None:
        return (
            f"not verifiable: it says it comes from {header.source!r}, which is not a peer "
            "of this site, so no shared password can check it"
        )
    if peer.username != spec.account:
        return (
            f"not verifiable: it was signed for account {spec.account!r} at "
            f"{header.source}, and this site calls {header.source} as {peer.username!r}"
        )
    try:
        secret = from_password(box.open(peer.sealed_password), spec)
    except SigningError as exc:
        return f"mis-signed: {exc}"
    return disk_key(
        secret, source=header.source, destination=header.destination, label=header.label
    )
