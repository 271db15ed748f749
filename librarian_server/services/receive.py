"""The streamed HTTP PUT of an upload's bytes: counted and hashed on the fly.

Bytes are written to the transfer's staging file in ~1 MiB slices handed to a
worker thread (hashlib and file writes release the GIL), so memory stays
constant whatever the size and the event loop stays free. A body longer than
declared is cut off at once; a short body or wrong checksum fails the transfer
and deletes the staged bytes before the client hears about it.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO

from anyio import to_thread
from sqlalchemy.orm import Session, sessionmaker

from librarian_client.checksum import Hasher, format_checksum, new_hasher
from librarian_client.models import TransferStatus, UploadPutResponse

from ..errors import InvalidRequest, VerificationFailed
from ..orm import IncomingTransfer, Store
from ..stores import backend_for
from .auth import AuthenticatedUser
from .transfers import fail_transfer, get_owned_transfer

SLICE = 1 << 20


class _Target:
    def __init__(self, transfer_id: int, path: Path, size: int, checksum: str | None, algo: str):
        self.transfer_id = transfer_id
        self.path = path
        self.expected_size = size
        self.expected_checksum = checksum
        self.algorithm = algo


def _open_target(
    factory: sessionmaker[Session], transfer_id: int, user: AuthenticatedUser
) -> _Target:
    with factory() as session:
        transfer = get_owned_transfer(session, transfer_id, user)
        if transfer.status not in (TransferStatus.INITIATED, TransferStatus.STAGED):
            raise InvalidRequest(
                f"Transfer {transfer_id} is {transfer.status.value}; it no longer takes bytes.",
                "Stage the file again to get a new transfer.",
            )
        store = session.get(Store, transfer.store_id)
        assert store is not None  # noqa: S101 - foreign key
        path = backend_for(store).staged_file(Path(transfer.staging_dir))
        return _Target(
            transfer.id,
            path,
            transfer.expected_size,
            transfer.expected_checksum,
            transfer.checksum_algorithm,
        )


def _write(handle: BinaryIO, hasher: Hasher, data: bytearray) -> None:
    hasher.update(data)
    handle.write(data)


def _mark_staged(
    factory: sessionmaker[Session], transfer_id: int, size: int, checksum: str
) -> None:
    with factory.begin() as session:
        transfer = session.get(IncomingTransfer, transfer_id)
        assert transfer is not None  # noqa: S101
        transfer.status = TransferStatus.STAGED
        transfer.received_size = size
        transfer.received_checksum = checksum


async def receive(
    factory: sessionmaker[Session],
    transfer_id: int,
    chunks: AsyncIterator[bytes],
    *,
    user: AuthenticatedUser,
) -> UploadPutResponse:
    target = await to_thread.run_sync(_open_target, factory, transfer_id, user)
    hasher = new_hasher(target.algorithm)
    size = 0
    reason: str | None = None
    try:
        with open(target.path, "wb") as handle:
            buffer = bytearray()
            async for chunk in chunks:
                size += len(chunk)
                if size > target.expected_size:
                    reason = f"more bytes than the {target.expected_size} declared at stage"
                    break
                buffer += chunk
                if len(buffer) >= SLICE:
                    data, buffer = buffer, bytearray()
                    await to_thread.run_sync(_write, handle, hasher, data)
            if reason is None and buffer:
                if len(buffer) >= 64 * 1024:
                    await to_thread.run_sync(_write, handle, hasher, buffer)
                else:
                    _write(handle, hasher, buffer)
    except BaseException:
        # Client went away or the disk failed: drop the partial bytes, keep the transfer
        # open so the client may PUT again.
        target.path.unlink(missing_ok=True)
        raise

    checksum = format_checksum(target.algorithm, hasher.hexdigest())
    if reason is None and size != target.expected_size:
        reason = f"size mismatch: declared {target.expected_size} bytes, received {size}"
    if reason is None and target.expected_checksum not in (None, checksum):
        reason = f"checksum mismatch: declared {target.expected_checksum}, received {checksum}"
    if reason is not None:
        await to_thread.run_sync(
            lambda: fail_transfer(factory, target.transfer_id, reason, caller="upload.put")
        )
        raise VerificationFailed(
            f"Upload of transfer {target.transfer_id} rejected: {reason}.",
            "The staged bytes were discarded; stage and upload the file again.",
        )
    await to_thread.run_sync(_mark_staged, factory, target.transfer_id, size, checksum)
    return UploadPutResponse(transfer_id=target.transfer_id, size=size, checksum=checksum)


def digest_header(checksum: str) -> str | None:
    """RFC 3230 ``Digest`` value for an MD5 checksum (VOSpace clients check it)."""
    algorithm, _, hexdigest = checksum.partition(":")
    if algorithm != "md5":
        return None
    return "md5=" + base64.b64encode(bytes.fromhex(hexdigest)).decode()
