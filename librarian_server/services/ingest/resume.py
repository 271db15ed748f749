"""Resuming an interrupted upload from the bytes the server already holds.

A PUT that is cut off (client killed, connection lost) keeps what arrived: the
staging file is fsynced and left for the client to continue. ``GET
/upload/{id}`` reports that durable offset and ``PUT /upload/{id}?offset=N``
sends the rest. Before appending, the server hashes the N bytes it holds in one
pass, so the final checksum covers the whole file as stored: a client whose
earlier part differs from what the server holds is caught by the checksum at
the end, and the transfer fails cleanly.

An exclusive ``flock`` on the staging file keeps two PUTs, or a PUT and an offset
query, from touching one transfer at once, also across worker processes.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from sqlalchemy.orm import Session, sessionmaker

from librarian_client.checksum import Hasher
from librarian_client.models import UploadOffsetResponse
from librarian_server.errors import Conflict, TransferRunning
from librarian_server.orm import OPEN_STATUSES
from librarian_server.services.accounts.auth import AuthenticatedUser
from librarian_server.services.ingest.transfers import owned_transfers

PREFIX_SLICE = 4 << 20


class UploadInProgress(TransferRunning):
    reason = "Another request is still sending bytes for this transfer."
    suggested_remedy = "Wait a few seconds for it to end (or be cut off), then resume."


@contextmanager
def exclusive(path: Path) -> Iterator[BinaryIO]:
    """The staging file, created if need be, opened read-write and locked for us alone."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    handle = os.fdopen(fd, "r+b")
    with handle:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UploadInProgress() from None
        yield handle  # closing the file releases the lock


def hash_prefix(handle: BinaryIO, hasher: Hasher, offset: int) -> None:
    """Feed the first ``offset`` bytes held on disk to ``hasher``, in one pass.

    Refuses an offset beyond what is held: the client must resume from the
    server's count, not its own guess.
    """
    held = os.fstat(handle.fileno()).st_size
    if offset > held:
        raise Conflict(
            f"The server holds {held} bytes of this transfer, not {offset}.",
            f"Ask GET on the transfer's URL for the offset and resume from {held}.",
        )
    handle.seek(0)
    left = offset
    while left:
        data = handle.read(min(PREFIX_SLICE, left))
        if not data:  # cannot happen after the fstat unless someone truncated it
            raise Conflict("The staged bytes shrank while being read.", "Resume again.")
        hasher.update(data)
        left -= len(data)


def keep_partial(handle: BinaryIO) -> None:
    """Make what arrived durable, so that the offset we report survives a crash."""
    handle.flush()
    os.fsync(handle.fileno())


def held_offset(
    factory: sessionmaker[Session], transfer_id: int, user: AuthenticatedUser
) -> UploadOffsetResponse:
    """How many bytes of an open transfer the server holds durably (0 if it is not open)."""
    with factory() as session:
        transfer = owned_transfers(session, [transfer_id], user)[transfer_id]
        answer = UploadOffsetResponse(
            transfer_id=transfer.id,
            name=transfer.name,
            status=transfer.status,
            expected_size=transfer.expected_size,
            checksum_algorithm=transfer.checksum_algorithm,
            offset=0,
        )
        path = Path(transfer.staging_path)
    if answer.status in OPEN_STATUSES and path.exists():
        with exclusive(path) as handle:
            keep_partial(handle)
            answer.offset = min(os.fstat(handle.fileno()).st_size, answer.expected_size)
    return answer
