"""Incoming-transfer state changes shared by stage, receive, commit and clean-up."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from librarian_client.models import TransferStatus

from ..errors import NotFound, PermissionDenied
from ..orm import ErrorCategory, IncomingTransfer, Store
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
    if transfer.uploader != user.name and user.permission != "admin":
        raise PermissionDenied(f"Transfer {transfer_id} belongs to another user.")
    return transfer


def fail_transfer(
    factory: sessionmaker[Session], transfer_id: int, reason: str, *, caller: str
) -> None:
    """Mark FAILED and delete its staged bytes, durably, whatever the caller's transaction does."""
    with factory.begin() as session:
        transfer = session.get(IncomingTransfer, transfer_id)
        if transfer is None:
            return
        store = session.get(Store, transfer.store_id)
        if store is not None:
            backend_for(store).discard_staging(Path(transfer.staging_dir))
        if transfer.status != TransferStatus.COMPLETED:
            transfer.status = TransferStatus.FAILED
            transfer.error = reason
    record_error(factory, ErrorCategory.UPLOAD, f"transfer {transfer_id}: {reason}", caller=caller)
