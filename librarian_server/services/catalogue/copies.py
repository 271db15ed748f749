"""This site's own copies of files: which may be used, and what a check of them found.

A copy whose bytes were found not to hash to the catalogue checksum is marked bad
at once, by whoever found it (a send, an audit): from then on it is never sent
to a peer nor served to a user, and the operator hears of it loudly. A copy is
usable when it is available and not known to be bad.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from librarian_client.models import CopyState
from librarian_server.orm import ErrorCategory, Instance, utcnow
from librarian_server.services.core.error_log import record_error
from librarian_server.services.core.sql import in_chunks
from librarian_server.stores import StoreBackend, backend_for

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LocalCopy:
    store_name: str
    store_root: Path
    path: Path | None
    """The copy on this machine's filesystem, for managers that need one (None on an
    object store: read it with ``open``)."""
    instance_id: int = 0
    backend: StoreBackend | None = None
    store_path: str = ""

    def open(self) -> BinaryIO:
        if self.backend is None:
            if self.path is None:
                raise FileNotFoundError(f"no way to read {self.store_path!r}")
            return open(self.path, "rb")
        return self.backend.open_read(self.store_path)

    def describe(self) -> str:
        return str(self.path) if self.path is not None else f"{self.store_name}:{self.store_path}"


def usable() -> ColumnElement[bool]:
    """Instances that may be read for a user or a peer: available, and not known bad."""
    return and_(
        Instance.available,
        or_(Instance.verified_result.is_(None), Instance.verified_result != CopyState.BAD),
    )


def kept() -> ColumnElement[bool]:
    """Instances that hold the file's bytes, readable now or after staging from tape."""
    return or_(Instance.verified_result.is_(None), Instance.verified_result != CopyState.BAD)


def local_copies(session: Session, names: list[str]) -> dict[str, LocalCopy]:
    """A usable copy of each file that has one, on any of this site's stores."""
    found: dict[str, LocalCopy] = {}
    for chunk in in_chunks(names):
        instances = session.scalars(
            select(Instance).where(Instance.file_name.in_(chunk), usable()).order_by(Instance.id)
        )
        for instance in instances:
            if instance.file_name not in found:
                backend = backend_for(instance.store)
                found[instance.file_name] = LocalCopy(
                    instance.store.name,
                    Path(instance.store.root),
                    backend.local_path(instance.path),
                    instance.id,
                    backend,
                    instance.path,
                )
    return found


def with_usable_copy(session: Session, names: Iterable[str]) -> set[str]:
    """Those of ``names`` with at least one usable copy here."""
    found: set[str] = set()
    for chunk in in_chunks(names):
        found.update(
            session.scalars(
                select(Instance.file_name).where(Instance.file_name.in_(chunk), usable())
            )
        )
    return found


def mark_verified(session: Session, instance_ids: Iterable[int], *, by: str) -> None:
    """The bytes of these copies were just read and hashed to the catalogue checksum."""
    ids = [i for i in instance_ids if i]
    for chunk in in_chunks(ids):
        session.execute(
            update(Instance)
            .where(Instance.id.in_(chunk))
            .values(
                verified_time=utcnow(),
                verified_result=CopyState.OK,
                verified_by=by,
                verified_detail=None,
            )
            .execution_options(synchronize_session=False)
        )


def mark_bad(factory: sessionmaker[Session], bad: dict[int, str], *, by: str) -> int:
    """These copies do not hash to the catalogue checksum (instance id -> what was found):
    mark them bad at once, in their own transaction, and raise it loudly. Returns how
    many were marked."""
    ids = [i for i in bad if i]
    if not ids:
        return 0
    with factory.begin() as session:
        rows = list(session.scalars(select(Instance).where(Instance.id.in_(ids))))
        now = utcnow()
        for row in rows:
            row.verified_time = now
            row.verified_result = CopyState.BAD
            row.verified_by = by
            row.verified_detail = bad[row.id]
        described = [(row.file_name, row.store.name, row.path, bad[row.id]) for row in rows]
    for name, store, path, detail in described:
        message = (
            f"the copy of {name!r} on store {store!r} ({path}) failed verification and is "
            f"no longer served or sent: {detail}"
        )
        log.error("%s", message)
        record_error(factory, ErrorCategory.STORE, message, caller=by)
    return len(described)
