"""Stage and commit: the two catalogue steps of the upload pipeline.

Commit orders its steps so that a crash anywhere leaves either nothing or a
whole, verified file: verify, insert File + Instance + status and flush (so
name clashes surface first), move the bytes into the store, then commit the
transaction; if that commit fails the bytes are moved back. These functions
therefore own their transactions and take a session *factory*.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from librarian_client.checksum import (
    ChecksumError,
    checksum_file,
    normalise_checksum,
    parse_checksum,
)
from librarian_client.models import (
    CommitItem,
    CommittedFile,
    StagedTransfer,
    StageItem,
    StageOutcome,
    TransferStatus,
)

from ..errors import FileAlreadyExists, InvalidRequest, VerificationFailed
from ..orm import File, IncomingTransfer, Instance, Store, utcnow
from ..settings import ServerSettings
from ..stores import backend_for
from .auth import AuthenticatedUser
from .names import validate_name
from .stores import choose_store
from .transfers import fail_many, owned_transfers

log = logging.getLogger(__name__)
_CHUNK = 500  # names per IN (...) query


def put_path(transfer_id: int) -> str:
    return f"/api/v2/upload/{transfer_id}"


def _checksum_or_400(value: str, name: str) -> str:
    try:
        return normalise_checksum(value)
    except ChecksumError as exc:
        raise InvalidRequest(f"{name}: {exc}", "Send '<algorithm>:<hex>', e.g. 'md5:…'.") from None


def existing_files(session: Session, names: Iterable[str]) -> dict[str, File]:
    found: dict[str, File] = {}
    batch = list(names)
    for start in range(0, len(batch), _CHUNK):
        chunk = batch[start : start + _CHUNK]
        found.update({f.name: f for f in session.scalars(select(File).where(File.name.in_(chunk)))})
    return found


def stage(
    session: Session,
    items: list[StageItem],
    *,
    user: AuthenticatedUser,
    settings: ServerSettings,
    algorithm: str | None = None,
) -> list[StagedTransfer]:
    """Validate the whole batch, then create one IncomingTransfer per new file.

    ``algorithm`` overrides the site's checksum algorithm for items that declare no
    checksum (VOSpace needs MD5 whatever the site's default).
    """
    if len(items) > settings.max_batch_size:
        raise InvalidRequest(
            f"{len(items)} files in one stage call; the limit is {settings.max_batch_size}.",
            "Split the batch.",
        )
    seen: set[str] = set()
    declared: dict[str, str | None] = {}
    for item in items:
        validate_name(item.name, max_length=settings.max_name_length)
        if item.name in seen:
            raise InvalidRequest(f"{item.name!r} appears twice in one stage request.")
        seen.add(item.name)
        declared[item.name] = (
            None if item.checksum is None else _checksum_or_400(item.checksum, item.name)
        )

    existing = existing_files(session, seen)
    results: dict[str, StagedTransfer] = {}
    for item in items:
        have = existing.get(item.name)
        if have is None:
            continue
        want = declared[item.name]
        if want is not None and (want != have.checksum or item.size != have.size):
            raise FileAlreadyExists(
                f"{item.name!r} already exists with checksum {have.checksum} "
                f"and size {have.size}; you sent {want} and size {item.size}.",
            )
        results[item.name] = StagedTransfer(
            name=item.name,
            outcome=StageOutcome.EXISTS if want is None else StageOutcome.ALREADY_PRESENT,
            checksum_algorithm=parse_checksum(have.checksum)[0],
            existing_checksum=have.checksum,
            existing_size=have.size,
        )

    new_items = [i for i in items if i.name not in results]
    if new_items:
        store = choose_store(
            session, sum(i.size for i in new_items), min_free_bytes=settings.min_free_bytes
        )
        backend = backend_for(store)
        paths = free_store_paths(session, store, [i.name for i in new_items])
        created: list[tuple[StageItem, dict[str, object], Path]] = []
        now = utcnow()
        try:
            for item in new_items:
                want = declared[item.name]
                staging = backend.create_staging()
                row: dict[str, object] = {
                    "name": item.name,
                    "status": TransferStatus.INITIATED,
                    "expected_size": item.size,
                    "expected_checksum": want,
                    "checksum_algorithm": (
                        (algorithm or settings.checksum_algorithm)
                        if want is None
                        else parse_checksum(want)[0]
                    ),
                    "store_id": store.id,
                    "staging_dir": str(staging),
                    "store_path": paths[item.name],
                    "transfer_manager": "http",
                    "uploader": user.name,
                    "source": settings.site_name,
                    "created_time": now,
                    "updated_time": now,
                }
                created.append((item, row, staging))
            # One batched INSERT ... RETURNING, ids in the order of the rows.
            ids = session.scalars(
                insert(IncomingTransfer).returning(
                    IncomingTransfer.id, sort_by_parameter_order=True
                ),
                [row for _, row, _ in created],
            ).all()
        except BaseException:
            for _, _, staging in created:
                backend.discard_staging(staging)
            raise
        offer_local = settings.offer_local_paths
        for (item, row, staging), transfer_id in zip(created, ids, strict=True):
            results[item.name] = StagedTransfer(
                name=item.name,
                outcome=StageOutcome.STAGED,
                transfer_id=transfer_id,
                put_path=put_path(transfer_id),
                local_path=str(backend.staged_file(staging)) if offer_local else None,
                store_marker=str(backend.marker_path) if offer_local else None,
                store_uuid=store.uuid if offer_local else None,
                checksum_algorithm=str(row["checksum_algorithm"]),
            )
    return [results[i.name] for i in items]


def free_store_paths(session: Session, store: Store, names: list[str]) -> dict[str, str]:
    """Each name's path in the store, avoiding paths that instances already hold.

    A path derives from the name, but a File renamed in the catalogue (a VOSpace move)
    keeps its bytes where they are; a later upload of the old name then gets a
    variant path instead of colliding with them.
    """
    backend = backend_for(store)
    paths = {name: backend.path_for(name) for name in names}
    wanted = list(paths.values())
    taken: set[str] = set()
    for start in range(0, len(wanted), _CHUNK):
        taken.update(
            session.scalars(
                select(Instance.path).where(
                    Instance.store_id == store.id, Instance.path.in_(wanted[start : start + _CHUNK])
                )
            )
        )
    for name in [n for n, p in paths.items() if p in taken]:
        for attempt in itertools.count(1):
            candidate = backend.path_for(f"{name}.{attempt}")
            held = session.scalar(
                select(Instance.id).where(Instance.store_id == store.id, Instance.path == candidate)
            )
            if held is None:
                paths[name] = candidate
                break
    return paths


@dataclass
class _Verified:
    transfer: IncomingTransfer
    store: Store
    size: int
    checksum: str


def _verify(transfer: IncomingTransfer, store: Store, item: CommitItem) -> _Verified | str:
    """Return the verified facts, or the reason verification failed."""
    backend = backend_for(store)
    staged = backend.staged_file(Path(transfer.staging_dir))
    algorithm = transfer.checksum_algorithm
    if transfer.status == TransferStatus.STAGED:  # received over HTTP: hashed on arrival
        size, checksum = transfer.received_size or 0, transfer.received_checksum or ""
        if not staged.is_file() or staged.stat().st_size != size:
            return "the staged bytes are missing or changed since they were received"
    else:  # INITIATED: the client copied the bytes itself, so we hash them now
        if not staged.is_file():
            return "no bytes were received (neither an HTTP PUT nor a local copy)"
        size, checksum = staged.stat().st_size, ""
        if size == transfer.expected_size:  # no point hashing the wrong number of bytes
            checksum = checksum_file(str(staged), algorithm)
    if size != transfer.expected_size:
        return f"size mismatch: declared {transfer.expected_size} bytes, received {size}"
    claims = [c for c in (transfer.expected_checksum, item.checksum) if c is not None]
    if not claims:
        return "no checksum was given at stage or commit"
    for claim in claims:
        want = normalise_checksum(claim)
        if parse_checksum(want)[0] != algorithm:
            return f"checksum {want} uses another algorithm than the staged {algorithm}"
        if want != checksum:
            return f"checksum mismatch: declared {want}, received bytes hash to {checksum}"
    return _Verified(transfer, store, size, checksum)


def commit(
    factory: sessionmaker[Session],
    items: list[CommitItem],
    *,
    user: AuthenticatedUser,
    settings: ServerSettings,
) -> list[CommittedFile]:
    if len({i.transfer_id for i in items}) != len(items):
        raise InvalidRequest("A transfer id appears twice in one commit request.")
    for item in items:
        if item.checksum is not None:
            _checksum_or_400(item.checksum, f"transfer {item.transfer_id}")

    done: dict[int, CommittedFile] = {}
    pending: list[tuple[IncomingTransfer, Store, CommitItem]] = []
    with factory() as session:
        transfers = owned_transfers(session, [i.transfer_id for i in items], user)
        for item in items:
            transfer = transfers[item.transfer_id]
            if transfer.status == TransferStatus.COMPLETED:
                committed = session.get(File, transfer.name)
                if committed is not None:  # a retried commit whose answer was lost
                    done[transfer.id] = _committed(committed, transfer.id)
                    continue
            if transfer.status not in (TransferStatus.INITIATED, TransferStatus.STAGED):
                raise InvalidRequest(
                    f"Transfer {transfer.id} ({transfer.name!r}) is {transfer.status.value}"
                    + (f": {transfer.error}" if transfer.error else "")
                    + ".",
                    "Stage the file again and re-send it.",
                )
            store = session.get(Store, transfer.store_id)
            assert store is not None  # noqa: S101 - foreign key
            pending.append((transfer, store, item))

    verified: list[_Verified] = []
    failures: dict[int, str] = {}
    names: list[str] = []
    for transfer, store, item in pending:
        outcome = _verify(transfer, store, item)
        if isinstance(outcome, str):
            failures[transfer.id] = outcome
            names.append(f"{transfer.name!r}: {outcome}")
        else:
            verified.append(outcome)
    if failures:
        fail_many(factory, failures, caller="upload.commit")
        raise VerificationFailed(
            f"Verification failed for {len(failures)} file(s): " + "; ".join(names[:20]),
            "The staged bytes were discarded; upload those files again.",
        )

    for result in _commit_with_retry(factory, verified):
        done[result.transfer_id] = result
    return [done[i.transfer_id] for i in items]


def _committed(file: File, transfer_id: int) -> CommittedFile:
    return CommittedFile(
        name=file.name, transfer_id=transfer_id, size=file.size, checksum=file.checksum
    )


class _NameRace(Exception):
    """Another upload committed one of our names between our check and our insert."""


def _commit_with_retry(
    factory: sessionmaker[Session], verified: list[_Verified], attempts: int = 3
) -> list[CommittedFile]:
    """Commit; a lost race is retried (same bytes then succeed, as for any duplicate).

    A name that turns out taken by different bytes fails the whole batch: every
    transfer in it is failed and its staged bytes deleted, so nothing lingers.
    """
    for attempt in range(attempts):
        try:
            return _commit_verified(factory, verified)
        except _NameRace:
            if attempt == attempts - 1:
                clash = FileAlreadyExists(
                    "Files in this batch kept being committed by other uploads meanwhile.",
                    "Upload the batch again.",
                )
                break
        except FileAlreadyExists as exc:
            clash = exc
            break
    reason = f"not committed: {clash.reason}"
    fail_many(factory, {v.transfer.id: reason for v in verified}, caller="upload.commit")
    raise clash


def _commit_verified(
    factory: sessionmaker[Session], verified: list[_Verified]
) -> list[CommittedFile]:
    if not verified:
        return []
    results: list[CommittedFile] = []
    moved: list[tuple[Store, list[tuple[Path, str]]]] = []
    now = utcnow()
    try:
        with factory.begin() as session:
            clash = existing_files(session, (v.transfer.name for v in verified))
            fresh: list[_Verified] = []
            for v in verified:
                if (have := clash.get(v.transfer.name)) is None:
                    fresh.append(v)
                    results.append(
                        CommittedFile(
                            name=v.transfer.name,
                            transfer_id=v.transfer.id,
                            size=v.size,
                            checksum=v.checksum,
                        )
                    )
                elif have.checksum == v.checksum:
                    results.append(_committed(have, v.transfer.id))
                else:
                    raise FileAlreadyExists(
                        f"{v.transfer.name!r} was committed meanwhile with checksum "
                        f"{have.checksum}."
                    )
            if fresh:
                _insert_files(
                    session,
                    [
                        {
                            "name": v.transfer.name,
                            "size": v.size,
                            "checksum": v.checksum,
                            "uploader": v.transfer.uploader or "",
                            "source": v.transfer.source,
                            "created_time": now,
                        }
                        for v in fresh
                    ],
                )
                session.execute(
                    insert(Instance),
                    [
                        {
                            "file_name": v.transfer.name,
                            "store_id": v.store.id,
                            "path": v.transfer.store_path,
                            "available": True,
                            "created_time": now,
                        }
                        for v in fresh
                    ],
                )
            added: dict[int, int] = {}
            for v in fresh:
                added[v.store.id] = added.get(v.store.id, 0) + v.size
            for store_id, size in added.items():
                session.execute(
                    update(Store)
                    .where(Store.id == store_id)
                    .values(used_bytes=Store.used_bytes + size)
                )
            session.execute(
                update(IncomingTransfer)
                .where(IncomingTransfer.id.in_([v.transfer.id for v in verified]))
                .values(status=TransferStatus.COMPLETED, error=None, updated_time=now)
            )
            by_store: dict[int, tuple[Store, list[tuple[Path, str]]]] = {}
            for v in fresh:
                entry = by_store.setdefault(v.store.id, (v.store, []))
                entry[1].append((Path(v.transfer.staging_dir), v.transfer.store_path))
            for store, moves in by_store.values():
                moved.append((store, backend_for(store).commit_many(moves)))
    except BaseException:
        for store, moves in moved:
            backend = backend_for(store)
            for staging_dir, store_path in moves:
                with contextlib.suppress(OSError):
                    backend.uncommit(store_path, staging_dir)
        raise
    for v in verified:
        backend_for(v.store).discard_staging(Path(v.transfer.staging_dir))
    return results


def _insert_files(session: Session, rows: list[dict[str, object]]) -> None:
    try:
        session.execute(insert(File), rows)
    except IntegrityError:
        raise _NameRace() from None
