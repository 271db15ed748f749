"""Sending again a file a peer proved it no longer holds.

A peer that answers a proof with no good copy (missing, corrupt, or not catalogued)
is no longer counted as holding the file: its RemoteInstance row goes, and, when this
site has a usable copy and the peer's policy takes the file, a transfer is queued for
the normal send path (``send_clone`` batches it with the rest). The peer's policy
decides as it decides for a new file: a peer that takes nothing over the network, a
file outside its glob, a file that came from it, or a transfer an operator left
failed, queue nothing here.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from librarian_server.orm import Peer, RemoteInstance
from librarian_server.services.core.sql import execute_count, in_chunks
from librarian_server.services.replication.send_plan import add_transfers, lacking
from librarian_server.settings import ServerSettings

log = logging.getLogger(__name__)


def _resend_to(
    session: Session, site: str, names: Sequence[str], settings: ServerSettings
) -> tuple[int, int]:
    forgotten = queued = 0
    peer = session.scalar(select(Peer).where(Peer.name == site))
    for chunk in in_chunks(dict.fromkeys(names)):
        forgotten += execute_count(
            session,
            delete(RemoteInstance).where(
                RemoteInstance.site == site, RemoteInstance.file_name.in_(chunk)
            ),
        )
        if peer is None or not peer.enabled or not peer.push:
            continue
        rows = session.execute(lacking(peer, settings, len(chunk), names=chunk)).all()
        add_transfers(session, site, [(name, size, checksum) for name, size, checksum, *_ in rows])
        queued += len(rows)
    return forgotten, queued


def resend_lost(
    factory: sessionmaker[Session],
    settings: ServerSettings,
    lost: Mapping[str, Sequence[str]],
) -> dict[str, int]:
    """``lost``: site -> files it proved it has no good copy of. Returns counts."""
    forgotten = queued = 0
    for site, names in lost.items():
        if not names:
            continue
        with factory.begin() as session:
            gone, sent = _resend_to(session, site, names, settings)
        if gone or sent:
            log.warning(
                "%s has no good copy of %d file(s) it was counted as holding; %d queued to "
                "send again",
                site,
                len(names),
                sent,
            )
        forgotten += gone
        queued += sent
    return {"forgotten": forgotten, "queued": queued}
