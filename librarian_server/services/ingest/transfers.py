"""Incoming-transfer state changes shared by stage, receive, commit and clean-up."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import insert, select
from sqlalchemy.orm import Session, sessionmaker

from librarian_client.checksum import parse_checksum
from librarian_client.models import TransferStatus
from librarian_server.errors import NotFound, PermissionDenied
from librarian_server.orm import (
    HOLDING_STATUSES,
    ErrorCategory,
    IncomingTransfer,
    Instance,
    Store,
    utcnow,
)
from librarian_server.services.accounts.auth import AuthenticatedUser
from librarian_server.services.catalogue.stores import choose_store
from librarian_server.services.core.error_log import record_error
from librarian_server.services.core.sql import in_chunks
from librarian_server.settings import ServerSettings
from librarian_server.stores import StoreBackend, backend_for


@dataclass(frozen=True)
class NewTransfer:
    """One file to open a transfer for; ``columns`` adds per-row values (clone keys)."""

    name: str
    size: int
    checksum: str | None  # normalised, or None when the commit will carry it
    columns: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class OpenedTransfer:
    id: int
    name: str
    staging_path: Path
    checksum_algorithm: str


@dataclass(frozen=True)
class OpenedBatch:
    store: Store
    backend: StoreBackend
    transfers: list[OpenedTransfer]


def open_transfers(
    session: Session,
    specs: list[NewTransfer],
    *,
    settings: ServerSettings,
    uploader: str,
    source: str,
    transfer_manager: str = "http",
    algorithm: str | None = None,
) -> OpenedBatch:
    """Claim room on one store and open a transfer, with its own staging path, per file.

    One batched INSERT ... RETURNING. The staging files do not exist yet: whoever
    sends the bytes creates them. ``algorithm`` overrides the site's checksum algorithm
    for files that declare no checksum (VOSpace needs MD5 whatever the site's default).
    """
    store = choose_store(
        session, sum(s.size for s in specs), min_free_bytes=settings.min_free_bytes
    )
    backend = backend_for(store)
    paths = free_store_paths(session, store, [s.name for s in specs])
    now = utcnow()
    rows: list[dict[str, object]] = []
    stagings: list[Path] = []
    for spec in specs:
        staging = backend.new_staging_path()
        stagings.append(staging)
        chosen = (
            (algorithm or settings.checksum_algorithm)
            if spec.checksum is None
            else parse_checksum(spec.checksum)[0]
        )
        rows.append(
            {
                "name": spec.name,
                "status": TransferStatus.INITIATED,
                "expected_size": spec.size,
                "expected_checksum": spec.checksum,
                "checksum_algorithm": chosen,
                "store_id": store.id,
                "staging_path": str(staging),
                "store_path": paths[spec.name],
                "transfer_manager": transfer_manager,
                "uploader": uploader,
                "source": source,
                "created_time": now,
                "updated_time": now,
                **spec.columns,
            }
        )
    # Ids come back in the order of the rows.
    ids = session.scalars(
        insert(IncomingTransfer).returning(IncomingTransfer.id, sort_by_parameter_order=True), rows
    ).all()
    return OpenedBatch(
        store,
        backend,
        [
            OpenedTransfer(
                transfer_id,
                str(row["name"]),
                staging,
                str(row["checksum_algorithm"]),
            )
            for row, staging, transfer_id in zip(rows, stagings, ids, strict=True)
        ],
    )


def free_store_paths(session: Session, store: Store, names: list[str]) -> dict[str, str]:
    """Each name's path in the store: unique per transfer, never one an instance holds.

    A path derives from the name (recognisable to an operator) plus a random part,
    so two uploads of one name, or a name reused after a VOSpace move, never share
    bytes: whatever clean-up does to one transfer's path cannot touch another's.
    """
    backend = backend_for(store)
    paths = {name: backend.path_for(name, secrets.token_hex(6)) for name in names}
    while True:
        taken: set[str] = set()
        for chunk in in_chunks(paths.values()):
            taken.update(
                session.scalars(
                    select(Instance.path).where(
                        Instance.store_id == store.id, Instance.path.in_(chunk)
                    )
                )
            )
        clashing = [n for n, p in paths.items() if p in taken]
        if not clashing:
            return paths
        for name in clashing:
            paths[name] = backend.path_for(name, secrets.token_hex(6))


def owned_transfers(
    session: Session, transfer_ids: list[int], user: AuthenticatedUser
) -> dict[int, IncomingTransfer]:
    """Load many transfers in one query; every id must exist and belong to ``user``."""
    found: dict[int, IncomingTransfer] = {}
    for chunk in in_chunks(transfer_ids):
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


def close_transfer(
    session: Session, transfer: IncomingTransfer, status: TransferStatus, reason: str
) -> bool:
    """End an open transfer and delete its staged bytes; False if it was not open."""
    if transfer.status not in HOLDING_STATUSES:
        return False
    store = session.get(Store, transfer.store_id)
    if store is not None:
        backend_for(store).discard_staging(Path(transfer.staging_path))
    transfer.status = status
    transfer.error = reason
    return True


def cancel_many(session: Session, transfer_ids: list[int], user: AuthenticatedUser) -> list[int]:
    """The client gave up on these uploads: release their bytes and their claim on room."""
    transfers = owned_transfers(session, transfer_ids, user)
    return [
        t.id
        for t in transfers.values()
        if close_transfer(session, t, TransferStatus.CANCELLED, "cancelled by the client")
    ]


def fail_many(factory: sessionmaker[Session], reasons: dict[int, str], *, caller: str) -> None:
    """Mark FAILED and delete staged bytes, durably, whatever the caller's transaction does."""
    with factory.begin() as session:
        for transfer_id, reason in reasons.items():
            transfer = session.get(IncomingTransfer, transfer_id)
            if transfer is not None:
                close_transfer(session, transfer, TransferStatus.FAILED, reason)
    for transfer_id, reason in reasons.items():
        record_error(
            factory, ErrorCategory.UPLOAD, f"transfer {transfer_id}: {reason}", caller=caller
        )
