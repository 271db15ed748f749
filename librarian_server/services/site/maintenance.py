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
from librarian_server.orm import (
    ACTIVE_STATUSES,
    HOLDING_STATUSES,
    IncomingTransfer,
    Instance,
    Store,
    utcnow,
)
from librarian_server.services.accounts.auth import count_users, create_user
from librarian_server.services.accounts.tokens import create_token
from librarian_server.services.catalogue.stores import add_store
from librarian_server.services.core.processes import others_alive
from librarian_server.services.core.sql import in_chunks
from librarian_server.services.ingest.transfer_cas import claim
from librarian_server.settings import ServerSettings
from librarian_server.stores import backend_for

log = logging.getLogger(__name__)


@dataclass
class FirstAdmin:
    name: str
    password_file: Path
    token: str


def ensure_default_store(session: Session, settings: ServerSettings) -> Store | None:
    """A catalogue with no store gets one under the data directory."""
    if session.scalar(select(Store.id).limit(1)) is not None:
        return None
    return add_store(
        session,
        settings.default_store_name,
        settings.store_dir,
        capacity_bytes=settings.default_store_capacity_bytes,
        make_buckets=settings.default_store_buckets == "up-front",
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
    token, _ = create_token(
        session,
        user.id,
        expires_in_seconds=None,
        max_lifetime=timedelta(seconds=settings.token_max_lifetime_seconds),
        description="first start",
    )
    return FirstAdmin(user.name, path, token)


ABANDONED = "abandoned: no commit before the server restarted or timed out"


def clean_staging(factory: sessionmaker[Session], *, idle_before: datetime) -> tuple[int, int]:
    """Fail uploads idle since ``idle_before`` and delete bytes nothing refers to.

    Returns (transfers failed, orphan staging entries removed). Each transfer is
    taken by compare-and-set on its own row (still open, still idle), never looked
    up by file name: a commit in another process claims its rows first, so a row
    this finds open and takes is one nobody is committing. Its staged bytes go, and
    its store bytes (a commit cut short after moving them) only if no Instance
    refers to that path. The deletions happen inside the claiming transaction, so
    a crash in between leaves the row open for the next clean-up, never a closed
    row with bytes nobody will remove.
    """
    with factory() as session:
        candidates = list(
            session.scalars(
                select(IncomingTransfer.id)
                .where(
                    IncomingTransfer.status.in_(ACTIVE_STATUSES),
                    IncomingTransfer.updated_time < idle_before,
                )
                .order_by(IncomingTransfer.id)
            )
        )
    failed = 0
    for chunk in in_chunks(candidates):
        with factory.begin() as session:
            failed += _take_and_clean(session, chunk, idle_before)
    removed = _remove_orphan_staging(factory, idle_before)
    if failed or removed:
        log.info(
            "staging clean-up: %d abandoned uploads failed, %d orphan staging files removed",
            failed,
            removed,
        )
    return failed, removed


def _take_and_clean(session: Session, ids: list[int], idle_before: datetime) -> int:
    won = claim(
        session,
        ids,
        statuses=ACTIVE_STATUSES,
        stale_before=idle_before,
        values={"status": TransferStatus.FAILED, "error": ABANDONED, "updated_time": utcnow()},
        skip_locked=True,
    )
    if not won:
        return 0
    rows = session.execute(
        select(
            IncomingTransfer.store_id, IncomingTransfer.staging_path, IncomingTransfer.store_path
        ).where(IncomingTransfer.id.in_(won))
    ).all()
    stores = {s.id: s for s in session.scalars(select(Store))}
    held = {
        (store_id, path)
        for store_id, path in session.execute(
            select(Instance.store_id, Instance.path).where(
                Instance.path.in_([r.store_path for r in rows])
            )
        )
    }
    for store_id, staging_path, store_path in rows:
        backend = backend_for(stores[store_id])
        backend.discard_staging(Path(staging_path))
        if (store_id, store_path) not in held:
            backend.delete(store_path)
    return len(won)


def _remove_orphan_staging(factory: sessionmaker[Session], idle_before: datetime) -> int:
    """Staging entries no open transfer names, older than ``idle_before``.

    Only old entries: a younger one may belong to a transfer opened after the
    list of open ones was read.
    """
    removed = 0
    with factory() as session:
        live = set(
            session.scalars(
                select(IncomingTransfer.staging_path).where(
                    IncomingTransfer.status.in_(HOLDING_STATUSES)
                )
            )
        )
        stores = list(session.scalars(select(Store)))
    for store in stores:
        backend = backend_for(store)
        for entry in backend.staging_entries():
            if str(entry) not in live and _mtime(entry) < idle_before.timestamp():
                backend.discard_staging(entry)
                removed += 1
        try:  # an object store's unfinished multipart uploads: a crashed commit's parts
            removed += backend.abandoned_uploads(idle_before)
        except OSError as exc:
            log.warning("clean-up of store %r's unfinished uploads failed: %s", store.name, exc)
    return removed


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


def startup_cleanup(
    factory: sessionmaker[Session], settings: ServerSettings, *, process_id: int | None = None
) -> tuple[int, int]:
    """Alone on the catalogue: everything open is abandoned. Else only what timed out.

    ``process_id`` is this process's own ``server_processes`` row, not counted as
    another. Safe by default: another live process's uploads are never cut short.
    """
    with factory() as session:
        others = others_alive(session, process_id)
    if others == 0:
        return clean_staging(factory, idle_before=utcnow())
    log.info(
        "start-up clean-up: %d other server process(es) alive; only uploads idle past "
        "the staging timeout are abandoned",
        others,
    )
    return expire_idle_uploads(factory, settings)
