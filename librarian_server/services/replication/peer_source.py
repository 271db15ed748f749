"""A peer as a ``ReplacementSource``: where repair gets a good copy when none is left here.

Only a peer that has just proven its copy (a fresh re-hash, through ``PeerProver``) is
asked for the bytes; every peer this site knows to hold the file is asked to prove
at once, and the bytes come from the first that did. They are streamed from the
peer's peer-account download endpoint into the staging path, hashed as they arrive:
bytes that do not hash to the catalogue checksum are discarded and the next proven
peer is tried. A peer found to lack its copy is sent the file again by the prover,
once this site's copy is repaired.
"""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from librarian_server.errors import PeerError
from librarian_server.orm import File, Peer, RemoteInstance
from librarian_server.services.integrity.sources import CopyProver
from librarian_server.services.replication.peers import PeerDialer, note_contact
from librarian_server.services.replication.proofs import PeerProver
from librarian_server.settings import ServerSettings

log = logging.getLogger(__name__)


class PeerSource:
    def __init__(
        self,
        factory: sessionmaker[Session],
        dialer: PeerDialer,
        settings: ServerSettings,
        *,
        prover: CopyProver | None = None,
    ) -> None:
        self.factory = factory
        self.dialer = dialer
        self.prover = prover or PeerProver(factory, dialer, settings)

    def _holders(self, file_name: str) -> list[Peer]:
        """Enabled peers known to hold the file, the longest-standing copy first, then
        the site it came from (which had it first, and may still)."""
        with self.factory() as session:
            peers = list(
                session.scalars(
                    select(Peer)
                    .join(RemoteInstance, RemoteInstance.site == Peer.name)
                    .where(RemoteInstance.file_name == file_name, Peer.enabled)
                    .order_by(RemoteInstance.copy_time, Peer.name)
                )
            )
            origin = session.scalar(
                select(Peer)
                .join(File, File.source == Peer.name)
                .where(File.name == file_name, Peer.enabled)
            )
            if origin is not None and origin not in peers:
                peers.append(origin)
            session.expunge_all()
        return peers

    def fetch(self, file_name: str, size: int, checksum: str, dest: Path) -> str | None:
        holders = self._holders(file_name)
        if not holders:
            return None
        proofs = self.prover.prove({peer.name: [file_name] for peer in holders})
        for peer in holders:
            proof = proofs.get((peer.name, file_name))
            if proof is None or not proof.ok:
                reason = proof.detail if proof is not None else "no answer"
                log.info("%s is no source for %r: %s", peer.name, file_name, reason)
                continue
            try:
                with self.dialer.open(peer) as client:
                    client.fetch(file_name, dest, size, checksum)
            except PeerError as exc:
                note_contact(self.factory, peer.name, str(exc))
                log.warning("fetching %r from %s failed: %s", file_name, peer.name, exc)
                continue
            note_contact(self.factory, peer.name)
            return f"peer {peer.name}"
        return None
