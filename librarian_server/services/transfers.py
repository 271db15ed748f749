"""Incoming-transfer state changes shared by stage, receive, commit and clean-up."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from librarian_client.models import TransferStatus

from ..errors import NotFound, PermissionDenied
from ..orm import ACTIVE_STATUSES, ErrorCategory, IncomingTransfer, Store
from ..stores import backend_for
from .auth import AuthenticatedUser
from .error_log import record_error


def get_owned_transfer(
    session: Session, transfer_id: int, user: AuthenticatedUser
) -> IncomingTransfer:
    transfer = session.get(IncomingTransfer, transfer_id)
    if transfer is None:
        raise NotFound(
            f"No upload transfer with id {transfer_id}.", "Stage the file again to get a new id."
        )
    _check_owner(transfer, user)
    return transfer


def owned_transfers(
    session: Session, transfer_ids: list[int], user: AuthenticatedUser
) -> dict[int, IncomingTransfer]:
    """Load many transfers in one query; every id must exist and belong to ``user``."""
    found: dict[int, IncomingTransfer] = {}
    for start in range(0, len(transfer_ids), 500):
        chunk = transfer_ids[start : start + 500]
        found.update(
            (t.id, t)
            for t in session.scalars(select(IncomingTransfer).where(IncomingTransfer.id.in_(chunk)))
        )
    for transfer_id in transfer_ids:
        transfer = found.get(transfer_id)
        if transfer is None:
            raise NotFound(
                f"No upload transfer with id {transfer_id}.",
                "Stage the file again to get a new id.",
            )
        _check_owner(transfer, user)
    return found


def _check_owner(transfer: IncomingTransfer, user: AuthenticatedUser) -> None:
    if transfer.uploader != user.name and user.permission != "admin":
        raise PermissionDenied(f"Transfer {transfer.id} belongs to another user.")


def _close(
    session: Session, transfer: IncomingTransfer, status: TransferStatus, reason: str
) -> bool:
    """End an open transfer and delete its staged bytes; False if it was not open."""
    if transfer.status not in ACTIVE_STATUSES:
        return False
    store = session.get(Store, transfer.store_id)
    if store is not None:
        backend_for(store).discard_staging(Path(transfer.staging_dir))
    transfer.status = status
    transfer.error = reason
    return True


def cancel_many(session: Session, transfer_ids: list[int], user: AuthenticatedUser) -> list[int]:
    """The client gave up on these uploads: release their bytes and their claim on room."""
    transfers = owned_transfers(session, transfer_ids, user)
    return [
        t.id
        for t in transfers.values()
        if _close(session, t, TransferStatus.CANCELLED, "cancelled by the client")
    ]


def fail_many(factory: sessionmaker[Session], reasons: dict[int, str], *, caller: str) -> None:
    """Mark FAILED and delete staged bytes, durably, whatever the caller's transaction does."""
    with factory.begin() as session:
        for transfer_id, reason in reasons.items():
            transfer = session.get(IncomingTransfer, transfer_id)
            if transfer is not None:
                _close(session, transfer, TransferStatus.FAILED, reason)
    for transfer_id, reason in reasons.items():
        record_error(
            factory, ErrorCategory.UPLOAD, f"transfer {transfer_id}: {reason}", caller=caller
        )
