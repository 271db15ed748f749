"""Commit: the one path by which staged bytes become a catalogued File.

Uploads, clones from peers (and later disks) all end here. The steps are ordered
so that a crash anywhere leaves either nothing or a whole, verified file: verify,
claim the transfers by compare-and-set (clean-up may have taken one: 409), insert
File + Instance and flush (so name clashes surface first), move
the bytes into the store, then commit the transaction; if that commit fails the
bytes are moved back. These functions therefore own their transactions and take
a session *factory*.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from librarian_client.checksum import checksum_file, normalise_checksum, parse_checksum
from librarian_client.models import CommitItem, CommittedFile, CopyState, TransferStatus
from librarian_server.errors import FileAlreadyExists, NameConflict
from librarian_server.metrics import counters as metrics
from librarian_server.orm import File, IncomingTransfer, Instance, Store, utcnow
from librarian_server.services.accounts.auth import AuthenticatedUser
from librarian_server.services.catalogue import namespace
from librarian_server.services.catalogue.copies import with_usable_copy
from librarian_server.services.catalogue.stores import add_used_bytes
from librarian_server.services.core import events
from librarian_server.services.core.sql import in_chunks
from librarian_server.services.ingest.transfer_cas import TransferClosed
from librarian_server.services.ingest.transfer_cas import claim as claim_rows
from librarian_server.services.ingest.transfers import fail_many, owned_transfers
from librarian_server.stores import StoreBackend, backend_for

# A transfer in one of these may be committed: bytes arrived by PUT (STAGED), were
# written by a client or a peer directly (INITIATED), or wait for verification here.
COMMITTABLE = (
    TransferStatus.INITIATED,
    TransferStatus.STAGED,
    TransferStatus.ONGOING,
    TransferStatus.STAGED_AT_DEST,
)

CommitHook = Callable[[Session, list[CommittedFile]], None]
"""Runs inside the commit's transaction with every file the batch settled."""


def existing_files(session: Session, names: Iterable[str]) -> dict[str, File]:
    found: dict[str, File] = {}
    for chunk in in_chunks(names):
        found.update({f.name: f for f in session.scalars(select(File).where(File.name.in_(chunk)))})
    return found


@dataclass
class Pending:
    transfer: IncomingTransfer
    store: Store
    item: CommitItem


@dataclass
class Loaded:
    """A commit request sorted: already done, ready to verify, or not committable."""

    done: dict[int, CommittedFile] = field(default_factory=dict)
    pending: list[Pending] = field(default_factory=list)
    unusable: dict[int, str] = field(default_factory=dict)


def load(
    factory: sessionmaker[Session], items: list[CommitItem], user: AuthenticatedUser
) -> Loaded:
    loaded = Loaded()
    with factory() as session:
        transfers = owned_transfers(session, [i.transfer_id for i in items], user)
        stores = {s.id: s for s in session.scalars(select(Store))}
        for item in items:
            transfer = transfers[item.transfer_id]
            if transfer.status == TransferStatus.COMPLETED:
                committed = session.get(File, transfer.name)
                if committed is not None:  # a retried commit whose answer was lost
                    loaded.done[transfer.id] = committed_file(committed, transfer.id)
                    continue
            if transfer.status not in COMMITTABLE:
                loaded.unusable[transfer.id] = (
                    f"transfer {transfer.id} ({transfer.name!r}) is {transfer.status.value}"
                    + (f": {transfer.error}" if transfer.error else "")
                )
                continue
            loaded.pending.append(Pending(transfer, stores[transfer.store_id], item))
    return loaded


@dataclass
class Verified:
    transfer: IncomingTransfer
    store: Store
    size: int
    checksum: str


def verify(pending: Pending) -> Verified | str:
    """Return the verified facts, or the reason verification failed."""
    transfer, item = pending.transfer, pending.item
    staged = Path(transfer.staging_path)
    algorithm = transfer.checksum_algorithm
    if transfer.received_checksum is not None:  # received over HTTP: hashed on arrival
        size, checksum = transfer.received_size or 0, transfer.received_checksum
        if not staged.is_file() or staged.stat().st_size != size:
            return "the staged bytes are missing or changed since they were received"
    else:  # written straight into staging by a client or a peer: hash them now
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
    return Verified(transfer, pending.store, size, checksum)


def verify_all(pending: list[Pending]) -> tuple[list[Verified], dict[int, str]]:
    verified: list[Verified] = []
    failures: dict[int, str] = {}
    for entry in pending:
        outcome = verify(entry)
        if isinstance(outcome, str):
            failures[entry.transfer.id] = outcome
        else:
            verified.append(outcome)
    return verified, failures


def commit_each(
    factory: sessionmaker[Session],
    items: list[CommitItem],
    *,
    user: AuthenticatedUser,
    caller: str,
    hook: CommitHook | None = None,
) -> dict[int, CommittedFile | str]:
    """Commit what verifies; for each transfer, its committed file or why it failed.

    Unlike an upload's commit, one bad file does not refuse the batch: the good
    ones are committed and the bad ones failed (bytes deleted), each with its reason.
    """
    loaded = load(factory, items, user)
    verified, failures = verify_all(loaded.pending)
    verified = _without_name_clashes(factory, verified, failures)
    if failures:
        fail_many(factory, failures, caller=caller)
    outcome: dict[int, CommittedFile | str] = {**loaded.done, **loaded.unusable, **failures}
    if hook is not None and loaded.done:
        with factory.begin() as session:
            hook(session, list(loaded.done.values()))
    try:
        for result in commit_with_retry(factory, verified, caller=caller, hook=hook):
            outcome[result.transfer_id] = result
    except TransferClosed as exc:
        # Taken by clean-up meanwhile: those are refused, the rest committed on their own.
        taken = set(exc.transfer_ids)
        outcome.update({i: f"not committed: {exc.reason}" for i in taken})
        rest = [v for v in verified if v.transfer.id not in taken]
        for result in commit_with_retry(factory, rest, caller=caller, hook=hook):
            outcome[result.transfer_id] = result
    except (FileAlreadyExists, NameConflict) as exc:
        outcome.update({v.transfer.id: f"not committed: {exc.reason}" for v in verified})
    return outcome


def _without_name_clashes(
    factory: sessionmaker[Session], verified: list[Verified], failures: dict[int, str]
) -> list[Verified]:
    """Fail, each on its own, the files whose names clash with the namespace now.

    So that one bad name does not sink a peer's whole batch; the commit checks
    again in its transaction, for the names that race in meanwhile.
    """
    with factory() as session:
        why = namespace.conflicts(session, (v.transfer.name for v in verified))
    for v in verified:
        if v.transfer.name in why:
            failures[v.transfer.id] = f"name clash: {why[v.transfer.name]}"
    return [v for v in verified if v.transfer.name not in why]


def committed_file(file: File, transfer_id: int) -> CommittedFile:
    return CommittedFile(
        name=file.name, transfer_id=transfer_id, size=file.size, checksum=file.checksum
    )


class _NameRace(Exception):
    """Another upload committed one of our names between our check and our insert."""


def commit_with_retry(
    factory: sessionmaker[Session],
    verified: list[Verified],
    *,
    caller: str,
    hook: CommitHook | None = None,
    attempts: int = 3,
) -> list[CommittedFile]:
    """Commit; a lost race is retried (same bytes then succeed, as for any duplicate).

    A name that turns out taken by different bytes fails the whole batch: every
    transfer in it is failed and its staged bytes deleted, so nothing lingers; so
    does a name that became a directory (or went under a file) meanwhile.
    """
    clash: FileAlreadyExists | NameConflict
    for attempt in range(attempts):
        try:
            return _commit_verified(factory, verified, hook, caller=caller)
        except _NameRace:
            if attempt == attempts - 1:
                clash = FileAlreadyExists(
                    "Files in this batch kept being committed by other uploads meanwhile.",
                    "Upload the batch again.",
                )
                break
        except (FileAlreadyExists, NameConflict) as exc:
            clash = exc
            break
    reason = f"not committed: {clash.reason}"
    fail_many(factory, {v.transfer.id: reason for v in verified}, caller=caller)
    raise clash


def _commit_verified(
    factory: sessionmaker[Session],
    verified: list[Verified],
    hook: CommitHook | None,
    *,
    caller: str,
) -> list[CommittedFile]:
    if not verified:
        return []
    fresh: list[Verified] = []
    results: list[CommittedFile] = []
    moved: list[tuple[Store, list[tuple[Path, str]]]] = []
    moved_names: set[str] = set()
    backends: dict[int, StoreBackend] = {}
    for v in verified:
        if v.store.id not in backends:
            backends[v.store.id] = backend_for(v.store)
    sent = _send_ahead(verified, backends)
    now = utcnow()
    try:
        with factory.begin() as session:
            # Claim first, by compare-and-set: a transfer clean-up took meanwhile has
            # no bytes any more and must not be catalogued. The claim holds the rows
            # until this transaction ends, so clean-up cannot take them after it.
            ids = [v.transfer.id for v in verified]
            won = claim_rows(
                session,
                ids,
                statuses=COMMITTABLE,
                values={"status": TransferStatus.COMPLETED, "error": None, "updated_time": now},
            )
            if len(won) != len(ids):
                raise TransferClosed(set(ids) - won, "Not committed")
            namespace.lock_names(session, (v.transfer.name for v in verified))
            clash = existing_files(session, (v.transfer.name for v in verified))
            usable = with_usable_copy(session, clash)
            fresh = []
            restored: list[Verified] = []
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
                    results.append(committed_file(have, v.transfer.id))
                    if v.transfer.name not in usable:
                        restored.append(v)  # every copy here is bad or gone: a new one
                else:
                    raise FileAlreadyExists(
                        f"{v.transfer.name!r} was committed meanwhile with checksum "
                        f"{have.checksum}."
                    )
            if fresh:
                _insert_catalogue_rows(session, fresh, now)
                # After the first write (SQLite's write lock is ours) and the lock above.
                namespace.check_free(session, (v.transfer.name for v in fresh))
                moved_names.update(v.transfer.name for v in fresh)
            if restored:
                _insert_instances(session, restored, now)
                moved_names.update(v.transfer.name for v in restored)
            if hook is not None:
                hook(session, results)
            by_store: dict[int, tuple[Store, list[tuple[Path, str]]]] = {}
            for v in fresh + restored:
                entry = by_store.setdefault(v.store.id, (v.store, []))
                entry[1].append((Path(v.transfer.staging_path), v.transfer.store_path))
            for store, moves in by_store.values():
                moved.append((store, backends[store.id].commit_many(moves)))
    except BaseException:
        for store, moves in moved:
            backend = backends[store.id]
            for staging_path, store_path in moves:
                with contextlib.suppress(OSError):
                    backend.uncommit(store_path, staging_path)
        _take_back(sent, backends, exclude=moved)
        raise
    metrics.files_committed(caller, [v.size for v in fresh])  # the transaction is committed
    for store, moves in moved:
        backends[store.id].release_staging(moves)
    spare = [v for v in verified if v.transfer.name not in moved_names]
    spare_paths = {v.transfer.store_path for v in spare}
    unneeded = {k: [m for m in ms if m[1] in spare_paths] for k, ms in sent.items()}
    _take_back(unneeded, backends, exclude=[])  # while their staged bytes are still there
    for v in spare:  # a file committed meanwhile by others: its staged copy is spare
        backends[v.store.id].discard_staging(Path(v.transfer.staging_path))
    return results


def _send_ahead(
    verified: list[Verified], backends: dict[int, StoreBackend]
) -> dict[int, list[tuple[Path, str]]]:
    """Outside any transaction: the slow part of committing (an object store's uploads)."""
    by_store: dict[int, list[tuple[Path, str]]] = {}
    for v in verified:
        by_store.setdefault(v.store.id, []).append(
            (Path(v.transfer.staging_path), v.transfer.store_path)
        )
    sent: dict[int, list[tuple[Path, str]]] = {}
    try:
        for store_id, moves in by_store.items():
            if backends[store_id].sends_ahead:
                backends[store_id].send_ahead(moves)
                sent[store_id] = moves
    except BaseException:
        _take_back(sent, backends, exclude=[])
        raise
    return sent


def _take_back(
    sent: dict[int, list[tuple[Path, str]]],
    backends: dict[int, StoreBackend],
    *,
    exclude: list[tuple[Store, list[tuple[Path, str]]]],
) -> None:
    """Remove bytes sent ahead that the catalogue will not name (each key is this
    transfer's own, so nothing anyone else stored is touched)."""
    done = {(store.id, path) for store, moves in exclude for _, path in moves}
    for store_id, moves in sent.items():
        for staging_path, store_path in moves:
            if (store_id, store_path) not in done:
                with contextlib.suppress(OSError):
                    backends[store_id].uncommit(store_path, staging_path)


def _insert_catalogue_rows(session: Session, fresh: list[Verified], now: object) -> None:
    """File + Instance rows and the stores' used bytes, in batched statements."""
    rows = [
        {
            "name": v.transfer.name,
            "size": v.size,
            "checksum": v.checksum,
            # A clone keeps the original uploader and site; an upload is its own origin.
            "uploader": v.transfer.origin_uploader or v.transfer.uploader or "",
            "source": v.transfer.source,
            "created_time": now,
        }
        for v in fresh
    ]
    try:
        session.execute(insert(File), rows)
    except IntegrityError:
        raise _NameRace() from None
    _insert_instances(session, fresh, now)
    events.record_many(
        session,
        events.FILE_COMMITTED,
        actor="librarian",
        items=(
            (
                v.transfer.name,
                {
                    "size": r["size"],
                    "checksum": r["checksum"],
                    "uploader": r["uploader"],
                    "source": r["source"],
                    "store": v.store.name,
                },
            )
            for r, v in zip(rows, fresh, strict=True)
        ),
    )


def _insert_instances(session: Session, verified: list[Verified], now: object) -> None:
    """An Instance per verified file and the stores' used bytes."""
    session.execute(
        insert(Instance),
        [
            {
                "file_name": v.transfer.name,
                "store_id": v.store.id,
                "path": v.transfer.store_path,
                "available": True,
                "created_time": now,
                # The bytes were hashed as they arrived and matched before the commit.
                "verified_time": now,
                "verified_result": CopyState.OK,
                "verified_by": "commit",
            }
            for v in verified
        ],
    )
    added: dict[int, int] = {}
    for v in verified:
        added[v.store.id] = added.get(v.store.id, 0) + v.size
    add_used_bytes(session, added)
