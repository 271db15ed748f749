"""Receiving upload bytes over HTTP: counted and hashed on the fly, constant memory.

Two shapes share one sink: a PUT carries one transfer's bytes; a bundle carries
many small transfers back to back after a JSON header line, so a thousand 4 KiB
files cost one request instead of a thousand. Large slices are hashed and
written in a worker thread (hashlib and file writes release the GIL), so the
event loop stays free. A body longer or shorter than declared, or with the wrong
checksum, fails its transfer and deletes the staged bytes before the client hears
about it.
"""

from __future__ import annotations

import contextlib
import errno
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from anyio import to_thread
from pydantic import ValidationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from librarian_client.checksum import Hasher, format_checksum, new_hasher
from librarian_client.models import (
    CloneReceived,
    TransferStatus,
    UploadBundleHeader,
    UploadPutResponse,
)
from librarian_server.errors import InsufficientStorage, InvalidRequest, VerificationFailed
from librarian_server.orm import OPEN_STATUSES, IncomingTransfer, utcnow
from librarian_server.services.accounts.auth import AuthenticatedUser
from librarian_server.services.ingest.resume import exclusive, hash_prefix, keep_partial
from librarian_server.services.ingest.transfer_cas import TransferClosed, claim
from librarian_server.services.ingest.transfers import fail_many, owned_transfers
from librarian_server.stores.posix import start_writeback

SLICE = 1 << 20
INLINE = 64 * 1024  # below this, hashing + writing in the loop beats a thread hop
MAX_HEADER = 1 << 20
log = logging.getLogger(__name__)


@dataclass
class _Target:
    transfer_id: int
    path: Path
    expected_size: int
    expected_checksum: str | None
    algorithm: str


def _open_targets(
    factory: sessionmaker[Session], transfer_ids: list[int], user: AuthenticatedUser
) -> list[_Target]:
    with factory() as session:
        transfers = owned_transfers(session, transfer_ids, user)
    targets = []
    for transfer_id in transfer_ids:
        transfer = transfers[transfer_id]
        if transfer.status not in OPEN_STATUSES:
            raise InvalidRequest(
                f"Transfer {transfer_id} is {transfer.status.value}; it no longer takes bytes.",
                "Stage the file again to get a new transfer.",
            )
        targets.append(
            _Target(
                transfer.id,
                Path(transfer.staging_path),
                transfer.expected_size,
                transfer.expected_checksum,
                transfer.checksum_algorithm,
            )
        )
    return targets


def _write(handle: BinaryIO, hasher: Hasher, data: bytes | bytearray) -> None:
    hasher.update(data)
    handle.write(data)


def _write_and_flush(handle: BinaryIO, hasher: Hasher, data: bytes | bytearray) -> None:
    """Write a slice and start its writeback to disk now, without waiting for it.

    The commit fsyncs the file; starting writeback as the bytes arrive overlaps the
    disk with the network, so that fsync finds little left to do.
    """
    _write(handle, hasher, data)
    handle.flush()
    start_writeback(handle.fileno(), handle.tell() - len(data), len(data))


class _Stream:
    """Pull-based reader over the request body with a small look-ahead buffer."""

    def __init__(self, chunks: AsyncIterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = bytearray()
        self._done = False

    async def _more(self) -> bool:
        """Pull the next non-empty chunk; False once the body is over."""
        while not self._done:
            try:
                chunk = await anext(self._chunks)
            except StopAsyncIteration:
                self._done = True
                break
            if chunk:
                self._pending += chunk
                return True
        return False

    async def readline(self, limit: int) -> bytes:
        while (end := self._pending.find(b"\n")) < 0:
            if len(self._pending) > limit or not await self._more():
                raise InvalidRequest(
                    "The bundle does not start with a JSON header line.",
                    'Send {"transfer_ids": [...]} and a newline before the bytes.',
                )
        line = bytes(self._pending[:end])
        del self._pending[: end + 1]
        return line

    async def read_upto(self, limit: int) -> bytes | bytearray:
        """Up to ``limit`` bytes (at least one unless the body is over)."""
        if not self._pending and not await self._more():
            return b""
        if len(self._pending) <= limit:
            whole = self._pending
            self._pending = bytearray()
            return whole
        data = bytes(self._pending[:limit])
        del self._pending[:limit]
        return data

    async def at_end(self) -> bool:
        return not self._pending and not await self._more()


async def _receive_one(
    stream: _Stream, target: _Target, *, offset: int = 0, resumable: bool = False
) -> tuple[int, str]:
    """Write the target's declared size (or less, if the body ends) to staging.

    From ``offset`` on when resuming: the bytes held before it are hashed first. A
    ``resumable`` receive that is cut short keeps what arrived, fsynced, for a resume.
    """
    hasher = new_hasher(target.algorithm)
    size = offset
    with exclusive(target.path) as handle:
        if offset:
            await to_thread.run_sync(hash_prefix, handle, hasher, offset)
        handle.truncate(offset)
        handle.seek(offset)
        buffer = bytearray()
        try:
            while size < target.expected_size:
                piece = await stream.read_upto(target.expected_size - size)
                if not piece:
                    break
                size += len(piece)
                buffer += piece
                if len(buffer) >= SLICE:
                    data, buffer = buffer, bytearray()
                    await to_thread.run_sync(_write_and_flush, handle, hasher, data)
            if len(buffer) >= INLINE:
                await to_thread.run_sync(_write, handle, hasher, buffer)
            elif buffer:
                _write(handle, hasher, buffer)
        except BaseException as exc:
            # Client went away or the disk failed. Keep the transfer open so that the
            # client may send again: from where it stopped if resumable, else from zero.
            # A full disk keeps nothing: the partial bytes are what it needs back.
            full = isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)
            if resumable and not full:
                with contextlib.suppress(OSError):  # a resume re-reads what is on disk
                    handle.write(buffer)
                    keep_partial(handle)
                log.info(
                    "transfer %d interrupted: %d of %d bytes held for a resume",
                    target.transfer_id,
                    handle.tell(),
                    target.expected_size,
                )
            else:
                target.path.unlink(missing_ok=True)
            if full:
                raise InsufficientStorage(
                    f"The store's disk filled while receiving transfer {target.transfer_id}; "
                    "its partial bytes were removed.",
                    "Free space on the store (or add a store) and send the bytes again; the "
                    "transfer stays open until the staging timeout.",
                ) from None
            raise
    return size, format_checksum(target.algorithm, hasher.hexdigest())


def _problem(target: _Target, size: int, checksum: str) -> str | None:
    if size != target.expected_size:
        return f"size mismatch: declared {target.expected_size} bytes, received {size}"
    if target.expected_checksum not in (None, checksum):
        return f"checksum mismatch: declared {target.expected_checksum}, received {checksum}"
    return None


def mark_staged(factory: sessionmaker[Session], received: list[UploadPutResponse]) -> set[int]:
    """Mark the transfers STAGED by compare-and-set; returns the ids closed meanwhile.

    A transfer that clean-up or a cancel closed while its bytes arrived is not
    reopened: its freshly written bytes are deleted here and the caller refuses it.
    """
    now = utcnow()
    with factory.begin() as session:
        won = claim(
            session,
            [r.transfer_id for r in received],
            statuses=OPEN_STATUSES,
            values={"updated_time": now},
        )
        if won:
            session.execute(  # ORM bulk UPDATE by primary key: one executemany
                update(IncomingTransfer),
                [
                    {
                        "id": r.transfer_id,
                        "status": TransferStatus.STAGED,
                        "received_size": r.size,
                        "received_checksum": r.checksum,
                        "updated_time": now,
                    }
                    for r in received
                    if r.transfer_id in won
                ],
            )
        closed = {r.transfer_id for r in received} - won
        if closed:
            paths = session.scalars(
                select(IncomingTransfer.staging_path).where(IncomingTransfer.id.in_(closed))
            ).all()
            for path in paths:
                Path(path).unlink(missing_ok=True)
    return closed


async def _settle(
    factory: sessionmaker[Session],
    received: list[UploadPutResponse],
    failures: dict[int, str],
    *,
    caller: str,
) -> list[UploadPutResponse]:
    """Fail the refused transfers (bytes deleted), mark the rest staged; returns the rest."""
    if failures:
        await to_thread.run_sync(lambda: fail_many(factory, failures, caller=caller))
    good = [r for r in received if r.transfer_id not in failures]
    if good:
        closed = await to_thread.run_sync(mark_staged, factory, good)
        if closed:
            raise TransferClosed(closed, "Bytes not kept")
    return good


async def _finish(
    factory: sessionmaker[Session],
    received: list[UploadPutResponse],
    failures: dict[int, str],
    *,
    caller: str,
) -> list[UploadPutResponse]:
    """An upload's answer: any refused file makes it a 422 naming them."""
    good = await _settle(factory, received, failures, caller=caller)
    if failures:
        detail = "; ".join(f"transfer {i}: {why}" for i, why in list(failures.items())[:20])
        raise VerificationFailed(
            f"Upload rejected: {detail}.",
            "The staged bytes were discarded; stage and upload those files again.",
        )
    return good


async def receive(
    factory: sessionmaker[Session],
    transfer_id: int,
    chunks: AsyncIterator[bytes],
    *,
    user: AuthenticatedUser,
    caller: str = "upload.put",
    offset: int = 0,
    resumable: bool = False,
) -> UploadPutResponse:
    """One transfer's bytes from ``offset`` on (0: the whole file; more: a resume).

    ``resumable``: a body cut short keeps what arrived for a resume (uploads); else
    (peers and VOSpace pushes, which start over) the partial bytes are deleted.
    """
    (target,) = await to_thread.run_sync(_open_targets, factory, [transfer_id], user)
    if offset > target.expected_size:
        raise InvalidRequest(
            f"Offset {offset} is beyond the {target.expected_size} bytes staged.",
            "Ask GET on the transfer's URL for the offset to resume from.",
        )
    stream = _Stream(chunks)
    size, checksum = await _receive_one(stream, target, offset=offset, resumable=resumable)
    if offset:
        log.info(
            "transfer %d resumed at byte %d: received %d bytes",
            target.transfer_id,
            offset,
            size - offset,
        )
    problem = _problem(target, size, checksum)
    if problem is None and not await stream.at_end():
        problem = f"more bytes than the {target.expected_size} declared at stage"
    failures = {} if problem is None else {target.transfer_id: problem}
    received = [
        UploadPutResponse(
            transfer_id=target.transfer_id, size=size, checksum=checksum, offset=offset
        )
    ]
    (result,) = await _finish(factory, received, failures, caller=caller)
    return result


async def _receive_bundle(
    factory: sessionmaker[Session], chunks: AsyncIterator[bytes], user: AuthenticatedUser
) -> tuple[list[UploadPutResponse], dict[int, str]]:
    stream = _Stream(chunks)
    try:
        header = UploadBundleHeader.model_validate_json(await stream.readline(MAX_HEADER))
    except ValidationError as exc:
        raise InvalidRequest(f"Bad bundle header: {exc.errors()[0]['msg']}.") from None
    if len(set(header.transfer_ids)) != len(header.transfer_ids):
        raise InvalidRequest("A transfer id appears twice in one bundle.")
    targets = await to_thread.run_sync(_open_targets, factory, header.transfer_ids, user)
    received: list[UploadPutResponse] = []
    failures: dict[int, str] = {}
    try:
        for target in targets:
            size, checksum = await _receive_one(stream, target)
            received.append(
                UploadPutResponse(transfer_id=target.transfer_id, size=size, checksum=checksum)
            )
            if (problem := _problem(target, size, checksum)) is not None:
                failures[target.transfer_id] = problem
    except BaseException:
        # Disk full or the client gone mid-bundle: the files already written for these
        # still-open transfers would wait for the staging timeout; remove them now.
        for done in targets[: len(received)]:
            done.path.unlink(missing_ok=True)
        raise
    if not await stream.at_end():
        for target in targets:
            failures.setdefault(target.transfer_id, "the bundle held more bytes than declared")
    return received, failures


async def receive_bundle(
    factory: sessionmaker[Session],
    chunks: AsyncIterator[bytes],
    *,
    user: AuthenticatedUser,
) -> list[UploadPutResponse]:
    """An upload bundle: any refused file makes the answer a 422 naming it."""
    received, failures = await _receive_bundle(factory, chunks, user)
    return await _finish(factory, received, failures, caller="upload.bundle")


async def receive_bundle_each(
    factory: sessionmaker[Session],
    chunks: AsyncIterator[bytes],
    *,
    user: AuthenticatedUser,
) -> list[CloneReceived]:
    """A peer's bundle: each file accepted or refused on its own, with its reason."""
    received, failures = await _receive_bundle(factory, chunks, user)
    try:
        await _settle(factory, received, failures, caller="clone.bundle")
    except TransferClosed as exc:
        failures.update({i: exc.reason for i in exc.transfer_ids})
    return [
        CloneReceived(
            transfer_id=r.transfer_id,
            size=r.size,
            checksum=r.checksum,
            reason=failures.get(r.transfer_id),
        )
        for r in received
    ]
