"""The receiving side of replication: stage a peer's batch, commit it, answer status.

A clone is an upload made by a peer account: the same staging, the same
streamed receive and the same commit path. What differs: everything is keyed
by the sender's transfer id (so repeated calls are harmless), the sender is
remembered as holding a copy, and files that need hashing beyond what a request
may wait for are verified in the background and confirmed later by check-in.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from librarian_client.models import (
    CloneCompleteRequest,
    CloneCompleteResponse,
    CloneOutcome,
    CloneResult,
    CloneStagedItem,
    CloneStageItem,
    CloneStageRequest,
    CloneStageResponse,
    CloneStatusRequest,
    CloneStatusResponse,
    CommitItem,
    CommittedFile,
    GlobusOffer,
    LocalOffer,
    PermissionLevel,
    TransferStatus,
)
from librarian_server.errors import InvalidName
from librarian_server.orm import (
    HOLDING_STATUSES,
    OPEN_STATUSES,
    File,
    IncomingTransfer,
    Store,
    utcnow,
)
from librarian_server.services.accounts.auth import AuthenticatedUser
from librarian_server.services.catalogue import namespace
from librarian_server.services.catalogue.copies import with_usable_copy
from librarian_server.services.catalogue.names import validate_name
from librarian_server.services.core.sql import claim_rows, in_chunks
from librarian_server.services.ingest.commit import CommitHook, commit_each, existing_files
from librarian_server.services.ingest.transfers import NewTransfer, open_transfers
from librarian_server.services.ingest.upload import check_batch_size, checksum_or_400
from librarian_server.services.replication.checkins import queue_checkins
from librarian_server.services.replication.outgoing import record_remote_copies
from librarian_server.services.replication.peers import check_caller
from librarian_server.settings import ServerSettings
from librarian_server.stores import backend_for

CLONE_MANAGER = "clone"
BACKGROUND = AuthenticatedUser(0, "background", PermissionLevel.ADMIN)


def _latest_by_key(
    session: Session, peer: str, source_ids: list[int]
) -> dict[int, IncomingTransfer]:
    """The newest incoming transfer for each of the sender's transfer ids."""
    found: dict[int, IncomingTransfer] = {}
    for chunk in in_chunks(source_ids):
        rows = session.scalars(
            select(IncomingTransfer)
            .where(
                IncomingTransfer.peer == peer,
                IncomingTransfer.source_transfer_id.in_(chunk),
            )
            .order_by(IncomingTransfer.id)
        )
        for row in rows:
            found[row.source_transfer_id or 0] = row
    return found


def stage_clones(
    session: Session,
    request: CloneStageRequest,
    *,
    user: AuthenticatedUser,
    settings: ServerSettings,
    receivable: list[str],
) -> CloneStageResponse:
    check_caller(user, request.source)
    check_batch_size(len(request.files), settings)
    files, results = _named(request.files, settings)
    declared = {f.name: checksum_or_400(f.checksum, f.name) for f in files}
    existing = existing_files(session, declared)
    clashes = namespace.conflicts(session, (n for n in declared if n not in existing))
    earlier = _latest_by_key(session, request.source, [f.source_transfer_id for f in files])
    staged_at: dict[int, tuple[Store, Path]] = {}  # where each staged file's bytes go
    present: list[str] = []
    new: list[NewTransfer] = []
    usable = with_usable_copy(session, existing)
    for item in files:
        key = item.source_transfer_id
        have = existing.get(item.name)
        before = earlier.get(key)
        if have is not None and _restores(have, item, declared[item.name], usable):
            have = None  # catalogued, but no good copy left here: take the sender's
        if have is not None:
            if have.checksum == declared[item.name] and have.size == item.size:
                results[key] = CloneStagedItem(
                    source_transfer_id=key, outcome=CloneOutcome.ALREADY_PRESENT
                )
                present.append(item.name)
            else:
                results[key] = CloneStagedItem(
                    source_transfer_id=key,
                    outcome=CloneOutcome.CONFLICT,
                    checksum=have.checksum,
                    reason=f"{item.name!r} is here with {have.checksum}, {have.size} bytes",
                )
        elif item.name in clashes:
            results[key] = CloneStagedItem(
                source_transfer_id=key,
                outcome=CloneOutcome.CONFLICT,
                reason=f"name clash: {clashes[item.name]}",
            )
        elif before is not None and before.status in HOLDING_STATUSES:
            results[key] = _stage_again(session, before, staged_at)
        else:
            columns: dict[str, object] = {
                "peer": request.source,
                "source_transfer_id": key,
                "origin_uploader": item.uploader,
                "source": item.origin,  # the file's origin; the sender is in ``peer``
            }
            new.append(NewTransfer(item.name, item.size, declared[item.name], columns))
    record_remote_copies(session, ((name, request.source) for name in present))
    if new:
        opened = open_transfers(
            session,
            new,
            settings=settings,
            uploader=user.name,
            source=request.source,
            transfer_manager=CLONE_MANAGER,
        )
        for spec, transfer in zip(new, opened.transfers, strict=True):
            key = int(str(spec.columns["source_transfer_id"]))
            results[key] = _staged(key, transfer.id)
            staged_at[key] = (opened.store, transfer.staging_path)
    response = CloneStageResponse(
        site=settings.site_name,
        files=[results[f.source_transfer_id] for f in request.files],
        managers=receivable,
    )
    _add_offers(response, staged_at, settings)
    return response


def _restores(have: File, item: CloneStageItem, checksum: str, usable: set[str]) -> bool:
    """The sender offers the bytes of a file catalogued here whose every copy here is bad
    or gone (it learnt so from a proof): stage them as a new copy."""
    return have.name not in usable and have.checksum == checksum and have.size == item.size


def _named(
    items: list[CloneStageItem], settings: ServerSettings
) -> tuple[list[CloneStageItem], dict[int, CloneStagedItem]]:
    """The batch's files under their stored (NFC) names, and the answers for those refused.

    A name the rule refuses is answered for that file alone: refusing the batch would
    make the sender spend an attempt of every good file in it, on every retry.
    """
    good: list[CloneStageItem] = []
    refused: dict[int, CloneStagedItem] = {}
    seen: set[str] = set()
    for item in items:
        key = item.source_transfer_id
        try:
            name = validate_name(item.name, max_length=settings.max_name_length)
        except InvalidName as exc:
            refused[key] = CloneStagedItem(
                source_transfer_id=key, outcome=CloneOutcome.REFUSED, reason=exc.reason
            )
            continue
        if name in seen:
            refused[key] = CloneStagedItem(
                source_transfer_id=key,
                outcome=CloneOutcome.REFUSED,
                reason=f"{name!r} is in this batch twice (names are compared in Unicode NFC)",
            )
            continue
        seen.add(name)
        good.append(item if name == item.name else item.model_copy(update={"name": name}))
    return good, refused


def _staged(key: int, transfer_id: int) -> CloneStagedItem:
    """Staged for bytes; the HTTP layer adds where to PUT them."""
    return CloneStagedItem(
        source_transfer_id=key, outcome=CloneOutcome.STAGED, transfer_id=transfer_id
    )


def _stage_again(
    session: Session, transfer: IncomingTransfer, staged_at: dict[int, tuple[Store, Path]]
) -> CloneStagedItem:
    """A repeated stage: the same transfer, ready for the bytes again, or still verifying."""
    key = transfer.source_transfer_id or 0
    if transfer.status not in OPEN_STATUSES:
        return CloneStagedItem(
            source_transfer_id=key, outcome=CloneOutcome.PENDING, transfer_id=transfer.id
        )
    # Whatever arrived before will be sent again, and is verified afresh.
    transfer.status = TransferStatus.INITIATED
    transfer.received_size = transfer.received_checksum = None
    store = session.get(Store, transfer.store_id)
    assert store is not None  # noqa: S101 - foreign key
    staged_at[key] = (store, Path(transfer.staging_path))
    return _staged(key, transfer.id)


def _add_offers(
    response: CloneStageResponse,
    staged_at: dict[int, tuple[Store, Path]],
    settings: ServerSettings,
) -> None:
    """Say where else the bytes may be written: a local path, a Globus path."""
    by_key = {item.source_transfer_id: item for item in response.files}
    stores = {store.id: store for store, _ in staged_at.values()}
    markers = [backend_for(store).marker_path for store in stores.values()]
    if "local" in response.managers and len(stores) == 1 and markers[0] is not None:
        (store,), marker = stores.values(), markers[0]
        response.local = LocalOffer(store_marker=str(marker), store_uuid=store.uuid)
        for key, (_, staged) in staged_at.items():
            by_key[key].local_path = str(staged)
    if "globus" in response.managers and settings.globus.endpoint_id:
        for key, (store, staged) in staged_at.items():
            root = settings.globus.path_for_store(store.name)
            if root is not None and staged.is_relative_to(Path(store.root)):
                relative = staged.relative_to(Path(store.root)).as_posix()
                by_key[key].globus_path = f"{root.rstrip('/')}/{relative}"
                response.globus = GlobusOffer(endpoint_id=settings.globus.endpoint_id)


def remember_sender(peer: str) -> CommitHook:
    def hook(session: Session, files: list[CommittedFile]) -> None:
        record_remote_copies(session, ((f.name, peer) for f in files))

    return hook


def _result(key: int, outcome: CommittedFile | str) -> CloneResult:
    if isinstance(outcome, str):
        return CloneResult(source_transfer_id=key, outcome=CloneOutcome.FAILED, reason=outcome)
    return CloneResult(
        source_transfer_id=key,
        outcome=CloneOutcome.COMMITTED,
        transfer_id=outcome.transfer_id,
        checksum=outcome.checksum,
    )


def complete_clones(
    factory: sessionmaker[Session],
    request: CloneCompleteRequest,
    *,
    user: AuthenticatedUser,
    settings: ServerSettings,
) -> CloneCompleteResponse:
    """The sender says the bytes are here: verify and commit, or defer the hashing."""
    check_caller(user, request.source)
    results: dict[int, CloneResult] = {}
    commit_now: list[tuple[int, int]] = []  # (source key, our transfer id)
    defer: list[int] = []
    budget = settings.replication.inline_verify_bytes
    with factory.begin() as session:
        wanted = [i.transfer_id for i in request.files]
        rows = {
            t.id: t
            for t in session.scalars(
                select(IncomingTransfer).where(IncomingTransfer.id.in_(wanted))
            )
        }
        for item in request.files:
            key, transfer = item.source_transfer_id, rows.get(item.transfer_id)
            if (
                transfer is None
                or transfer.peer != request.source
                or transfer.source_transfer_id != key
            ):
                results[key] = CloneResult(source_transfer_id=key, outcome=CloneOutcome.UNKNOWN)
            elif transfer.status in (TransferStatus.STAGED_AT_DEST, TransferStatus.ONGOING):
                results[key] = CloneResult(
                    source_transfer_id=key, outcome=CloneOutcome.PENDING, transfer_id=transfer.id
                )
            elif transfer.status is TransferStatus.STAGED:  # hashed on arrival: cheap
                commit_now.append((key, transfer.id))
            elif transfer.status is TransferStatus.INITIATED and transfer.expected_size <= budget:
                budget -= transfer.expected_size
                commit_now.append((key, transfer.id))
            elif transfer.status is TransferStatus.INITIATED:
                defer.append(transfer.id)
                transfer.transfer_manager = request.transfer_manager
                results[key] = CloneResult(
                    source_transfer_id=key, outcome=CloneOutcome.PENDING, transfer_id=transfer.id
                )
            else:  # COMPLETED (a repeated call), FAILED or CANCELLED: say what happened
                commit_now.append((key, transfer.id))
        if defer:
            session.execute(
                update(IncomingTransfer)
                .where(IncomingTransfer.id.in_(defer))
                .values(status=TransferStatus.STAGED_AT_DEST, updated_time=utcnow())
            )
    if commit_now:
        outcomes = commit_each(
            factory,
            [CommitItem(transfer_id=tid) for _, tid in commit_now],
            user=user,
            caller="clone.complete",
            hook=remember_sender(request.source),
        )
        for key, tid in commit_now:
            results[key] = _result(key, outcomes[tid])
    return CloneCompleteResponse(files=[results[i.source_transfer_id] for i in request.files])


def clone_status(
    session: Session, request: CloneStatusRequest, *, user: AuthenticatedUser
) -> CloneStatusResponse:
    """What became of the sender's transfers here, for its hypervisor."""
    check_caller(user, request.source)
    latest = _latest_by_key(session, request.source, request.source_transfer_ids)
    checksums = {
        f.name: f.checksum
        for f in existing_files(session, (t.name for t in latest.values())).values()
    }.get
    out = []
    for key in request.source_transfer_ids:
        transfer = latest.get(key)
        if transfer is None:
            out.append(CloneResult(source_transfer_id=key, outcome=CloneOutcome.UNKNOWN))
            continue
        outcome = {
            TransferStatus.INITIATED: CloneOutcome.STAGED,
            TransferStatus.STAGED: CloneOutcome.STAGED,
            TransferStatus.ONGOING: CloneOutcome.PENDING,
            TransferStatus.STAGED_AT_DEST: CloneOutcome.PENDING,
            TransferStatus.COMPLETED: CloneOutcome.COMMITTED,
        }.get(transfer.status, CloneOutcome.FAILED)
        out.append(
            CloneResult(
                source_transfer_id=key,
                outcome=outcome,
                transfer_id=transfer.id,
                checksum=checksums(transfer.name) if outcome is CloneOutcome.COMMITTED else None,
                reason=transfer.error if outcome is CloneOutcome.FAILED else None,
            )
        )
    return CloneStatusResponse(files=out)


def verify_deferred(
    factory: sessionmaker[Session], *, limit: int, out_of_time: Callable[[], bool]
) -> dict[str, int]:
    """Background: hash and commit clones whose senders stopped waiting; owe them a check-in."""
    committed = failed = 0
    while not out_of_time():
        with factory.begin() as session:
            # Another worker's identical claim then matches nothing.
            claimed = claim_rows(
                session,
                IncomingTransfer.id,
                IncomingTransfer.status == TransferStatus.STAGED_AT_DEST,
                values={"status": TransferStatus.ONGOING, "updated_time": utcnow()},
                limit=limit,
            )
        if not claimed:
            break
        with factory() as session:
            rows = list(
                session.scalars(select(IncomingTransfer).where(IncomingTransfer.id.in_(claimed)))
            )
        by_peer: dict[str, list[IncomingTransfer]] = {}
        for row in rows:
            by_peer.setdefault(row.peer or "", []).append(row)
        for peer, transfers in by_peer.items():
            outcomes = commit_each(
                factory,
                [CommitItem(transfer_id=t.id) for t in transfers],
                user=BACKGROUND,
                caller="clone.verify",
                hook=remember_sender(peer) if peer else None,
            )
            owed = []
            for t in transfers:
                outcome = outcomes[t.id]
                good = not isinstance(outcome, str)
                committed += good
                failed += not good
                owed.append(
                    {
                        "destination": peer,
                        "source_transfer_id": t.source_transfer_id or 0,
                        "file_name": t.name,
                        "committed": good,
                        "checksum": None if isinstance(outcome, str) else outcome.checksum,
                        "reason": outcome if isinstance(outcome, str) else None,
                    }
                )
            if peer:
                with factory.begin() as session:
                    queue_checkins(session, owed)
    return {"committed": committed, "failed": failed}
