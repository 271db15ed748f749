"""Stage and commit: the two catalogue steps of the upload pipeline.

Stage validates a batch and opens one IncomingTransfer per new file; commit
hands the verified ones to the shared commit path (``ingest/commit.py``) and,
unlike a clone, refuses the whole request when any file fails verification.
"""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from librarian_client.checksum import ChecksumError, normalise_checksum, parse_checksum
from librarian_client.models import (
    CommitItem,
    CommittedFile,
    StagedTransfer,
    StageItem,
    StageOutcome,
)
from librarian_server.errors import FileAlreadyExists, InvalidRequest, VerificationFailed
from librarian_server.services.accounts.auth import AuthenticatedUser
from librarian_server.services.catalogue import namespace
from librarian_server.services.catalogue.names import validate_name
from librarian_server.services.ingest import commit as committer
from librarian_server.services.ingest.commit import existing_files
from librarian_server.services.ingest.transfers import NewTransfer, fail_many, open_transfers
from librarian_server.settings import ServerSettings


def checksum_or_400(value: str, name: str) -> str:
    try:
        return normalise_checksum(value)
    except ChecksumError as exc:
        raise InvalidRequest(f"{name}: {exc}", "Send '<algorithm>:<hex>', e.g. 'md5:…'.") from None


def check_batch_size(count: int, settings: ServerSettings) -> None:
    if count > settings.max_batch_size:
        raise InvalidRequest(
            f"{count} files in one request; the limit is {settings.max_batch_size}.",
            "Split the batch.",
        )


def check_batch(names: list[str], settings: ServerSettings) -> list[str]:
    """Size limit, valid names, no name twice: a batch is refused whole, before any work.

    Returns the names in their stored (NFC) form, in order.
    """
    check_batch_size(len(names), settings)
    stored: list[str] = []
    seen: set[str] = set()
    for given in names:
        name = validate_name(given, max_length=settings.max_name_length)
        if name in seen:
            raise InvalidRequest(
                f"{name!r} appears twice in one request (names are compared in Unicode NFC).",
                "Send each file once.",
            )
        seen.add(name)
        stored.append(name)
    return stored


def stage(
    session: Session,
    items: list[StageItem],
    *,
    user: AuthenticatedUser,
    settings: ServerSettings,
    algorithm: str | None = None,
) -> list[StagedTransfer]:
    """Validate the whole batch, then create one IncomingTransfer per new file.

    ``algorithm`` is the checksum algorithm for files that declare no checksum
    (default: the site's).
    """
    names = check_batch([i.name for i in items], settings)
    items = [i.model_copy(update={"name": n}) for i, n in zip(items, names, strict=True)]
    declared = {
        i.name: None if i.checksum is None else checksum_or_400(i.checksum, i.name) for i in items
    }
    existing = existing_files(session, declared)
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

    new = [NewTransfer(i.name, i.size, declared[i.name]) for i in items if i.name not in results]
    namespace.check_free(session, [spec.name for spec in new])
    if new:
        opened = open_transfers(
            session,
            new,
            settings=settings,
            uploader=user.name,
            source=settings.site_name,
            algorithm=algorithm,
        )
        # An object store's spool is no place for a client to write: bytes by HTTP only.
        offer_local = settings.offer_local_paths and opened.backend.marker_path is not None
        for transfer in opened.transfers:
            results[transfer.name] = StagedTransfer(
                name=transfer.name,
                outcome=StageOutcome.STAGED,
                transfer_id=transfer.id,
                local_path=str(transfer.staging_path) if offer_local else None,
                store_marker=str(opened.backend.marker_path) if offer_local else None,
                store_uuid=opened.store.uuid if offer_local else None,
                checksum_algorithm=transfer.checksum_algorithm,
            )
    return [results[i.name] for i in items]


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
            checksum_or_400(item.checksum, f"transfer {item.transfer_id}")

    loaded = committer.load(factory, items, user)
    if loaded.unusable:
        first = next(iter(loaded.unusable.values()))
        raise InvalidRequest(
            first[0].upper() + first[1:] + ".",
            "Stage the file again and re-send it.",
        )
    verified, failures = committer.verify_all(loaded.pending)
    if failures:
        fail_many(factory, failures, caller="upload.commit")
        names = {p.transfer.id: p.transfer.name for p in loaded.pending}
        detail = "; ".join(f"{names[i]!r}: {why}" for i, why in list(failures.items())[:20])
        raise VerificationFailed(
            f"Verification failed for {len(failures)} file(s): {detail}",
            "The staged bytes were discarded; upload those files again.",
        )
    done = dict(loaded.done)
    for result in committer.commit_with_retry(factory, verified, caller="upload.commit"):
        done[result.transfer_id] = result
    return [done[i.transfer_id] for i in items]
