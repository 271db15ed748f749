"""Start-up work: the embedded default's first store and admin, and staging clean-up."""

from __future__ import annotations

import logging
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from librarian_client.models import PermissionLevel, TransferStatus

from ..orm import ACTIVE_STATUSES, HOLDING_STATUSES, File, IncomingTransfer, Store, utcnow
from ..settings import ServerSettings
from ..stores import backend_for
from .auth import count_users, create_token, create_user
from .stores import add_store

log = logging.getLogger(__name__)


@dataclass
class FirstAdmin:
    name: str
    password_file: Path
    token: str


def ensure_default_store(
    session: Session, settings: ServerSettings, *, make_buckets: bool = True
) -> Store | None:
    """A catalogue with no store gets one under the data directory."""
    if session.scalar(select(Store.id).limit(1)) is not None:
        return None
    return add_store(
        session,
        settings.default_store_name,
        settings.store_dir,
        capacity_bytes=settings.default_store_capacity_bytes,
        make_buckets=make_buckets,
    )


def ensure_first_admin(session: Session, settings: ServerSettings) -> FirstAdmin | None:
    """Create the first admin with a random password kept in a 0600 file, never logged."""
    if count_users(session):
        return None
    password = secrets.token_urlsafe(18)
    user = create_user(session, settings.initial_admin_name, password, PermissionLevel.ADMIN)
    path = settings.data_dir / "initial-admin-password"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(password + "\n")
    token, _ = create_token(session, user.id, expires_in=None, description="first start")
    return FirstAdmin(user.name, path, token)


def clean_staging(factory: sessionmaker[Session], *, idle_before: datetime) -> tuple[int, int]:
    """Fail uploads idle since ``idle_before`` and delete bytes nothing refers to.

    Returns (transfers failed, orphan staging entries removed). A commit cut short
    between moving bytes into the store and writing the File row leaves bytes in
    the store with no row; those are removed here too.
    """
    failed = removed = 0
    with factory.begin() as session:
        stale = session.scalars(
            select(IncomingTransfer).where(
                IncomingTransfer.status.in_(ACTIVE_STATUSES),
                IncomingTransfer.updated_time < idle_before,
            )
        ).all()
        for transfer in stale:
            store = session.get(Store, transfer.store_id)
            assert store is not None  # noqa: S101
            backend = backend_for(store)
            committed = session.get(File, transfer.name) is not None
            if not committed and backend.exists(transfer.store_path):
                backend.delete(transfer.store_path)
            backend.discard_staging(Path(transfer.staging_path))
            transfer.status = TransferStatus.FAILED
            transfer.error = "abandoned: no commit before the server restarted or timed out"
            failed += 1
        live = {
            t.staging_path
            for t in session.scalars(
                select(IncomingTransfer).where(IncomingTransfer.status.in_(HOLDING_STATUSES))
            )
        }
        for store in session.scalars(select(Store)):
            backend = backend_for(store)
            for entry in backend.staging_entries():
                # Only old entries: a younger one may belong to bytes that another
                # worker is writing for a transfer it has not recorded yet.
                if str(entry) not in live and _mtime(entry) < idle_before.timestamp():
                    backend.discard_staging(entry)
                    removed += 1
    if failed or removed:
        log.info(
            "staging clean-up: %d abandoned uploads failed, %d orphan staging files removed",
            failed,
            removed,
        )
    return failed, removed


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return float("inf")


def expire_idle_uploads(
    factory: sessionmaker[Session], settings: ServerSettings
) -> tuple[int, int]:
    """Periodic: uploads idle past the staging timeout are abandoned."""
    timeout = timedelta(seconds=settings.staging_timeout_seconds)
    return clean_staging(factory, idle_before=utcnow() - timeout)


def startup_cleanup(factory: sessionmaker[Session], settings: ServerSettings) -> tuple[int, int]:
    grace = timedelta(seconds=settings.staging_startup_grace_seconds)
    return clean_staging(factory, idle_before=utcnow() - grace)
