"""Ingest: the files on a carried disk, verified and committed like any upload.

Each file listed in a disk's manifest is checked against the manifest (present,
right size), copied into staging while it is hashed, and committed through the
same commit path as uploads and clones. Files already here with the same
checksum count as success; bad, missing and conflicting ones are reported without
stopping the rest. Every outcome is owed to the source site as a check-in, which
``send_checkins`` delivers once the source is reachable: no network is needed
here. Ingesting the same disk again changes nothing but sending the news again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from librarian_client.checksum import parse_checksum
from librarian_client.exceptions import LocalFileChanged
from librarian_client.models import (
    CommitItem,
    DiskEvent,
    DiskProblem,
    IngestSummary,
    TransferStatus,
    UploadPutResponse,
)
from librarian_client.streaming import copy_hashing
from librarian_server.errors import InvalidName, InvalidRequest
from librarian_server.orm import IncomingTransfer
from librarian_server.services.accounts.auth import AuthenticatedUser
from librarian_server.services.catalogue.names import validate_name
from librarian_server.services.core.credentials import CredentialBox
from librarian_server.services.ingest.commit import commit_each, existing_files
from librarian_server.services.ingest.receive import mark_staged
from librarian_server.services.ingest.transfers import (
    NewTransfer,
    OpenedTransfer,
    close_transfer,
    fail_many,
    open_transfers,
)
from librarian_server.services.replication.checkins import queue_checkins
from librarian_server.services.replication.clone_receive import remember_sender
from librarian_server.services.replication.outgoing import record_remote_copies
from librarian_server.services.sneakernet.disk import DiskEntry, DiskFormatError, DiskReader
from librarian_server.services.sneakernet.keys import ingest_key
from librarian_server.services.sneakernet.progress import Reporter, Stopped
from librarian_server.settings import ServerSettings

MANAGER = "sneakernet"
BATCH = 500
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OpenedExport:
    """One export on the disk, its file lines read once, and why it is not verified."""

    reader: DiskReader
    entries: list[DiskEntry]
    unverified: str | None = None


def open_disk(
    path: Path,
    settings: ServerSettings,
    factory: sessionmaker[Session],
    *,
    accept_unsigned: bool = False,
    by: str = "?",
) -> list[OpenedExport]:
    """Every export on the disk, all for this site and all correctly signed by the site
    they name (or accepted by an administrator's override), or a clear refusal."""
    try:
        readers = [DiskReader(d) for d in DiskReader.find(path)]
    except DiskFormatError as exc:
        raise InvalidRequest(str(exc) + ".", "Check the path and the disk.") from None
    if not readers:
        raise InvalidRequest(
            f"No Librarian export found at {path}.",
            "Give the disk's mount point or one librarian-* directory on it.",
        )
    for reader in readers:
        if reader.header.destination != settings.site_name:
            raise InvalidRequest(
                f"{reader.directory.name} was written for site {reader.header.destination!r}, "
                f"and this is {settings.site_name!r}.",
                "Carry the disk to the site it was made for.",
            )
    box = CredentialBox.for_settings(settings)
    opened = []
    for reader in readers:
        with factory() as session:
            key = ingest_key(session, reader.header, box)
        entries, problem = reader.listed(key if isinstance(key, bytes) else None)
        why = key if isinstance(key, str) else None if problem is None else f"mis-signed: {problem}"
        if why is not None:
            _refuse_or_override(reader, why, accept_unsigned=accept_unsigned, by=by)
        opened.append(OpenedExport(reader, entries, why))
    return opened


def _refuse_or_override(reader: DiskReader, why: str, *, accept_unsigned: bool, by: str) -> None:
    name, source = reader.directory.name, reader.header.source
    if not accept_unsigned:
        raise InvalidRequest(
            f"Disk export {name} is {why}. Its origin and uploader fields cannot be trusted, "
            "so nothing on it was ingested.",
            f"Ask {source!r} for a new disk; or, if you know where this disk comes from (e.g. "
            f"the peer password changed since it was written), ingest it with "
            "--accept-unsigned (logged).",
        )
    log.warning(
        "SNEAKERNET SIGNATURE OVERRIDE: %s ingests %s (from %r) although it is %s",
        by,
        reader.directory,
        source,
        why,
    )


def _batches(entries: Iterator[DiskEntry]) -> Iterator[list[DiskEntry]]:
    while batch := list(islice(entries, BATCH)):
        yield batch


def ingest_disk(
    factory: sessionmaker[Session],
    settings: ServerSettings,
    *,
    readers: list[OpenedExport],
    user: AuthenticatedUser,
    reporter: Reporter,
) -> DiskEvent:
    listed = [o.entries for o in readers]
    reporter.start(sum(map(len, listed)), sum(e.size for lst in listed for e in lst))
    summary = IngestSummary(
        labels=[o.reader.header.label for o in readers],
        files=reporter.total_files or 0,
        unverified=[
            DiskProblem(name=o.reader.header.label, reason=o.unverified)
            for o in readers
            if o.unverified is not None
        ],
    )
    try:
        for opened in readers:
            for batch in _batches(iter(opened.entries)):
                _Batch(factory, settings, opened.reader, user, summary, reporter).ingest(batch)
    except Stopped:
        pass  # the client went away; what was committed stays, the rest waits
    return DiskEvent(event="done", ingest=summary)


@dataclass
class _Batch:
    """One batch of a disk's files, and the check-ins it owes the source."""

    factory: sessionmaker[Session]
    settings: ServerSettings
    reader: DiskReader
    user: AuthenticatedUser
    summary: IngestSummary
    reporter: Reporter
    owed: list[dict[str, Any]] = field(default_factory=list)

    @property
    def source(self) -> str:
        return self.reader.header.source

    def owe(self, entry: DiskEntry, checksum: str | None = None, reason: str | None = None) -> None:
        self.owed.append(
            {
                "destination": self.source,
                "source_transfer_id": entry.transfer_id,
                "file_name": entry.name,
                "committed": reason is None,
                "checksum": checksum,
                "reason": reason,
            }
        )

    def refuse(self, entry: DiskEntry, kind: list[DiskProblem], reason: str) -> None:
        kind.append(DiskProblem(name=entry.name, reason=reason))
        self.owe(entry, reason=f"{reason} (disk {self.reader.header.label})")

    def _named(self, batch: list[DiskEntry]) -> list[DiskEntry]:
        """The entries under their stored (NFC) names; those the name rule refuses, refused."""
        good: list[DiskEntry] = []
        for entry in batch:
            try:
                name = validate_name(entry.name, max_length=self.settings.max_name_length)
            except InvalidName as exc:
                self.refuse(entry, self.summary.bad, exc.reason)
                continue
            good.append(entry if name == entry.name else entry.model_copy(update={"name": name}))
        return good

    def ingest(self, listed: list[DiskEntry]) -> None:
        todo: list[tuple[DiskEntry, Path]] = []
        present: list[DiskEntry] = []
        batch = self._named(listed)
        with self.factory.begin() as session:
            here = existing_files(session, (e.name for e in batch))
            for entry in batch:
                have = here.get(entry.name)
                if have is not None and (have.checksum, have.size) == (entry.checksum, entry.size):
                    present.append(entry)
                    self.owe(entry, checksum=have.checksum)
                elif have is not None:
                    self.refuse(entry, self.summary.conflicts, f"here with {have.checksum}")
                elif (problem := self._check(entry)) is not None:
                    self.refuse(entry, *problem)
                else:
                    todo.append((entry, self.reader.path_of(entry)))
            record_remote_copies(session, ((e.name, self.source) for e in present))
        self.summary.already_present += len(present)
        try:
            self.reporter.add(nbytes=sum(e.size for e in present), nfiles=len(present))
            if todo:
                self._commit(todo)
        finally:  # what was settled is owed, even when the ingest is stopped half-way
            with self.factory.begin() as session:
                queue_checkins(session, self.owed)

    def _check(self, entry: DiskEntry) -> tuple[list[DiskProblem], str] | None:
        """Why the disk's copy cannot be right, before reading it; None if it may be."""
        try:
            path = self.reader.path_of(entry)
        except ValueError as exc:
            return self.summary.bad, str(exc)
        if not path.is_file():
            return self.summary.missing, "not on the disk"
        size = path.stat().st_size
        if size != entry.size:
            return self.summary.bad, f"{size} bytes on the disk, {entry.size} listed"
        return None

    def _commit(self, todo: list[tuple[DiskEntry, Path]]) -> None:
        with self.factory.begin() as session:
            opened = open_transfers(
                session,
                [
                    NewTransfer(
                        e.name,
                        e.size,
                        e.checksum,
                        {
                            "peer": self.source,
                            "source_transfer_id": e.transfer_id,
                            "origin_uploader": e.uploader,
                            "source": e.origin,
                        },
                    )
                    for e, _ in todo
                ],
                settings=self.settings,
                uploader=self.user.name,
                source=self.source,
                transfer_manager=MANAGER,
            )
        try:
            self._copy_and_commit(todo, opened.transfers)
        except Stopped:
            # Nothing half-done stays behind: the transfers not committed yet are closed
            # and their staged bytes removed; the next ingest of the disk takes them.
            with self.factory.begin() as session:
                open_ids = [t.id for t in opened.transfers]
                for row in session.scalars(
                    select(IncomingTransfer).where(IncomingTransfer.id.in_(open_ids))
                ):
                    close_transfer(session, row, TransferStatus.CANCELLED, "the ingest was stopped")
            raise

    def _copy_and_commit(
        self, todo: list[tuple[DiskEntry, Path]], opened: list[OpenedTransfer]
    ) -> None:
        received: list[UploadPutResponse] = []
        failures: dict[int, str] = {}
        by_id: dict[int, DiskEntry] = {}
        for (entry, path), transfer in zip(todo, opened, strict=True):
            by_id[transfer.id] = entry
            try:
                checksum = copy_hashing(
                    str(path),
                    str(transfer.staging_path),
                    entry.size,
                    parse_checksum(entry.checksum)[0],
                    lambda nbytes, nfiles: self.reporter.add(nbytes=nbytes),
                )
            except (OSError, LocalFileChanged) as exc:
                failures[transfer.id] = f"unreadable on the disk: {exc}"
                continue
            if checksum != entry.checksum:
                failures[transfer.id] = f"hashes to {checksum} on the disk, not {entry.checksum}"
            else:  # hashed on its way into staging, as an HTTP upload is: not read again
                received.append(
                    UploadPutResponse(transfer_id=transfer.id, size=entry.size, checksum=checksum)
                )
        if failures:
            fail_many(self.factory, failures, caller="sneakernet.ingest")
            for transfer_id, reason in failures.items():
                self.refuse(by_id[transfer_id], self.summary.bad, reason)
        if not received:
            return
        mark_staged(self.factory, received)
        outcomes = commit_each(
            self.factory,
            [CommitItem(transfer_id=r.transfer_id) for r in received],
            user=self.user,
            caller="sneakernet.ingest",
            hook=remember_sender(self.source),
        )
        for r in received:
            entry, outcome = by_id[r.transfer_id], outcomes[r.transfer_id]
            if isinstance(outcome, str):
                self.refuse(entry, self.summary.bad, outcome)
            else:
                self.summary.committed += 1
                self.owe(entry, checksum=outcome.checksum)
            self.reporter.add(nfiles=1)
