"""Deleting files: who may delete what, and never the last copy by accident.

The rule, for the files API (``librarian rm``) and VOSpace deletes alike:

- An uploader may take back their own file within the grace period
  (``delete_grace_seconds``) if it was never replicated: uploaded here, no other
  site confirmed holding it, never sent anywhere. That is the undo for a mistaken
  upload, and needs no flag.
- Anything else (replicated, received from a peer, past the grace, or another
  user's) needs an admin *and* ``force``.
- Beyond that undo, a file that no other site has confirmed holding is the last
  copy known anywhere: it also needs ``last_copy``.
- A file being sent to a peer right now is refused (cancel or wait).

A request is refused whole if any file in it is, so ``rm --prefix`` never stops half
way. Every deleted file leaves an ``Event`` row (who, what, why allowed). Bytes are
removed from the stores only once the transaction has committed: a rollback leaves
the catalogue and its bytes as they were.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from librarian_client.models import (
    DeletedFile,
    DeleteRequest,
    DeleteResponse,
    ErrorCode,
    PermissionLevel,
    TransferStatus,
)
from librarian_server.errors import Conflict, InvalidRequest, NotFound, PermissionDenied
from librarian_server.orm import (
    OUTGOING_LIVE,
    Event,
    File,
    Instance,
    OutgoingTransfer,
    RemoteInstance,
    Store,
    VOSpaceProperty,
    utcnow,
)
from librarian_server.services.accounts.auth import AuthenticatedUser
from librarian_server.services.catalogue.files import name_prefix
from librarian_server.services.catalogue.stores import add_used_bytes, delete_after_commit
from librarian_server.services.core.sql import in_chunks
from librarian_server.settings import ServerSettings

log = logging.getLogger(__name__)
_SHOWN = 5
_NO_SYNC = {"synchronize_session": False}


class DeletionRefused(Conflict):
    code = ErrorCode.DELETION_REFUSED
    reason = "These files may not be deleted as asked."


@dataclass(frozen=True)
class Verdict:
    """One file's case: why it may go, or what it still needs."""

    file: File
    retract: bool  # the uploader's undo within the grace period
    replicated: list[str]  # sites holding it (or "sent to ..."/"received from ...")
    last_copy: bool
    busy: str | None  # a peer it is being sent to now


def select_files(session: Session, request: DeleteRequest, settings: ServerSettings) -> list[File]:
    """The files a request names (every one must exist) or its prefix selects."""
    if request.prefix is not None:
        limit = settings.max_batch_size
        found = list(
            session.scalars(
                select(File)
                .where(*name_prefix(request.prefix))
                .order_by(File.name)
                .limit(limit + 1)
            )
        )
        if len(found) > limit:
            raise InvalidRequest(
                f"More than {limit} files start with {request.prefix!r}.",
                "Delete a narrower prefix at a time.",
            )
        if not found:
            raise NotFound(f"No file starts with {request.prefix!r}.")
        return found
    files = _by_name(session, list(dict.fromkeys(request.names)))
    missing = [n for n in request.names if n not in files]
    if missing:
        raise NotFound(
            f"No file named {missing[0]!r}"
            + (f" (and {len(missing) - 1} more)." if len(missing) > 1 else ".")
        )
    return [files[n] for n in dict.fromkeys(request.names)]


def _by_name(session: Session, names: list[str]) -> dict[str, File]:
    found: dict[str, File] = {}
    for chunk in in_chunks(names):
        found.update((f.name, f) for f in session.scalars(select(File).where(File.name.in_(chunk))))
    return found


def judge(
    session: Session, files: list[File], user: AuthenticatedUser, settings: ServerSettings
) -> list[Verdict]:
    names = [f.name for f in files]
    holders: dict[str, list[str]] = {}
    sent: dict[str, list[str]] = {}
    sending: dict[str, str] = {}
    for chunk in in_chunks(names):
        for name, site in session.execute(
            select(RemoteInstance.file_name, RemoteInstance.site).where(
                RemoteInstance.file_name.in_(chunk)
            )
        ):
            holders.setdefault(name, []).append(site)
        for name, peer, status in session.execute(
            select(
                OutgoingTransfer.file_name, OutgoingTransfer.destination, OutgoingTransfer.status
            )
            .where(OutgoingTransfer.file_name.in_(chunk))
            .where(OutgoingTransfer.status.in_([*OUTGOING_LIVE, TransferStatus.COMPLETED]))
        ):
            if status == TransferStatus.COMPLETED:
                sent.setdefault(name, []).append(f"sent to {peer}")
            else:
                sending[name] = peer
    grace = timedelta(seconds=settings.delete_grace_seconds)
    now = utcnow()
    verdicts = []
    for file in files:
        replicated = holders.get(file.name, []) + sent.get(file.name, [])
        if file.source != settings.site_name:
            replicated.append(f"received from {file.source}")
        retract = (
            file.uploader == user.name
            and not replicated
            and _younger(file.created_time, now, grace)
        )
        verdicts.append(
            Verdict(
                file=file,
                retract=retract,
                replicated=replicated,
                last_copy=not holders.get(file.name),
                busy=sending.get(file.name),
            )
        )
    return verdicts


def _younger(created: datetime, now: datetime, grace: timedelta) -> bool:
    return now - created < grace


def check(
    verdicts: list[Verdict],
    user: AuthenticatedUser,
    *,
    force: bool,
    last_copy: bool,
    grace_seconds: int,
    flags: tuple[str, str] = ("--force", "--last-copy"),
) -> None:
    """Raise if any file may not go as asked; the message names the first few and the fix."""
    force_flag, last_flag = flags
    busy = [v for v in verdicts if v.busy]
    if busy:
        raise DeletionRefused(
            f"{_listed(busy, lambda v: f'being sent to {v.busy}')} now.",
            "Wait for the transfer to finish, or cancel it (librarian transfers cancel ID).",
        )
    guarded = [v for v in verdicts if not v.retract]
    listed = _listed(guarded, lambda v: _why_guarded(v, user, grace_seconds))
    if guarded and user.permission is not PermissionLevel.ADMIN:
        raise PermissionDenied(
            f"Only an admin may delete {listed}.",
            f"Uploaders may delete their own files within {_hours(grace_seconds)} of upload, "
            f"while no other site has them; ask an admin (who must add {force_flag}).",
        )
    if guarded and not force:
        raise DeletionRefused(
            f"Deleting {listed} needs {force_flag}.",
            f"Add {force_flag} if you mean it.",
        )
    last = [v for v in guarded if v.last_copy]
    if last and not last_copy:
        raise DeletionRefused(
            f"{_listed(last, lambda v: 'no other site has confirmed holding it')}: "
            "the last copy known anywhere.",
            f"Add {last_flag} to destroy {'it' if len(last) == 1 else 'them'} for good.",
        )


def _why_guarded(v: Verdict, user: AuthenticatedUser, grace_seconds: int) -> str:
    if v.replicated:
        return f"replicated: {', '.join(v.replicated[:3])}"
    if v.file.uploader != user.name:
        return f"uploaded by {v.file.uploader}"
    return f"older than {_hours(grace_seconds)}"


def _hours(seconds: int) -> str:
    return f"{seconds / 3600:g} h"


def _listed(verdicts: list[Verdict], why: Callable[[Verdict], str]) -> str:
    shown = "; ".join(f"{v.file.name!r} ({why(v)})" for v in verdicts[:_SHOWN])
    more = f" and {len(verdicts) - _SHOWN} more" if len(verdicts) > _SHOWN else ""
    return f"{len(verdicts)} file{'s' if len(verdicts) != 1 else ''}: {shown}{more}"


def remove(
    session: Session, verdicts: list[Verdict], actor: str, *, via: str, flags: dict[str, bool]
) -> list[DeletedFile]:
    """Delete the catalogue rows and record events; bytes go after the commit."""
    names = [v.file.name for v in verdicts]
    doomed: list[tuple[Store, str]] = []
    freed: dict[int, int] = {}
    stores = {s.id: s for s in session.scalars(select(Store))}
    for chunk in in_chunks(names):
        for store_id, path, size in session.execute(
            select(Instance.store_id, Instance.path, File.size)
            .join(File, Instance.file_name == File.name)
            .where(File.name.in_(chunk))
        ):
            doomed.append((stores[store_id], path))
            freed[store_id] = freed.get(store_id, 0) + size
    add_used_bytes(session, {store_id: -size for store_id, size in freed.items()})
    record(session, verdicts, actor, via=via, flags=flags)
    for chunk in in_chunks(names):
        for model, column in (
            (Instance, Instance.file_name),
            (RemoteInstance, RemoteInstance.file_name),
            (OutgoingTransfer, OutgoingTransfer.file_name),
            (VOSpaceProperty, VOSpaceProperty.path),
        ):
            session.execute(delete(model).where(column.in_(chunk)), execution_options=_NO_SYNC)
        session.execute(delete(File).where(File.name.in_(chunk)), execution_options=_NO_SYNC)
    session.flush()
    delete_after_commit(session, doomed)
    log.info("%s deleted %d file(s) via %s", actor, len(verdicts), via)
    return [
        DeletedFile(
            name=v.file.name,
            size=v.file.size,
            checksum=v.file.checksum,
            last_copy=v.last_copy,
        )
        for v in verdicts
    ]


def record(
    session: Session, verdicts: list[Verdict], actor: str, *, via: str, flags: dict[str, bool]
) -> None:
    """One ``file.deleted`` event per file, in the deleting transaction."""
    now = utcnow()
    session.add_all(
        Event(
            time=now,
            kind="file.deleted",
            actor=actor,
            subject=v.file.name,
            detail={
                "via": via,
                "size": v.file.size,
                "checksum": v.file.checksum,
                "uploader": v.file.uploader,
                "rule": "uploader within grace" if v.retract else "admin with force",
                "last_copy": v.last_copy,
                "holders": v.replicated,
                **flags,
            },
        )
        for v in verdicts
    )


def delete_files(
    session: Session, request: DeleteRequest, *, user: AuthenticatedUser, settings: ServerSettings
) -> DeleteResponse:
    """The files API: select, judge, refuse whole or delete all (or just say, on a dry run)."""
    files = select_files(session, request, settings)
    verdicts = judge(session, files, user, settings)
    check(
        verdicts,
        user,
        force=request.force,
        last_copy=request.last_copy,
        grace_seconds=settings.delete_grace_seconds,
    )
    freed = sum(f.size for f in files)
    if request.dry_run:
        deleted = [
            DeletedFile(
                name=v.file.name, size=v.file.size, checksum=v.file.checksum, last_copy=v.last_copy
            )
            for v in verdicts
        ]
        return DeleteResponse(deleted=deleted, bytes_freed=freed, dry_run=True)
    flags = {"force": request.force, "last_copy_flag": request.last_copy}
    deleted = remove(session, verdicts, user.name, via="api", flags=flags)
    return DeleteResponse(deleted=deleted, bytes_freed=freed)
