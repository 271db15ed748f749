"""Export: the files a peer lacks, written onto a disk that people carry to it.

The files chosen are those the peer lacks and that are not already on their way
(plus any waiting to be retried), oldest first, as many as ``max_bytes`` allows.
They go in steps of ``chunk_files``: claim the step's outgoing transfers for this
disk (one batch, manager ``sneakernet``, the disk label as external id), copy
each file and read it back from the disk, then list the good ones in the
manifest. Whatever stops the export (the disk full, the client gone, the server
killed), the manifest lists exactly the files that are whole on the disk;
transfers claimed but not written go back to the pool unharmed.
"""

from __future__ import annotations

import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from librarian_client.models import DiskEvent, DiskProblem, ExportSummary, TransferStatus
from librarian_client.models.sneakernet import ExportStop
from librarian_server.errors import InvalidRequest, PermissionDenied
from librarian_server.orm import File, OutgoingTransfer, Peer, QueueStatus, SendQueue, utcnow
from librarian_server.services.catalogue.copies import local_copies
from librarian_server.services.cold.jobs import on_tape_only, stage_in_background
from librarian_server.services.core.sql import compare_and_set, insert_ignoring_conflicts
from librarian_server.services.replication import outgoing
from librarian_server.services.replication.peers import get_peer
from librarian_server.services.replication.send_plan import lacking
from librarian_server.services.sneakernet.disk import DiskEntry, DiskFull, DiskHeader, DiskWriter
from librarian_server.services.sneakernet.keys import check_account, export_key
from librarian_server.services.sneakernet.progress import Reporter, Stopped
from librarian_server.settings import ServerSettings

MANAGER = "sneakernet"
_PLAN_LIMIT = 1_000_000


def disk_path(path: str, settings: ServerSettings, *, writable: bool) -> Path:
    """A server-side directory an administrator named: absolute, present, allowed."""
    if "\x00" in path:
        raise InvalidRequest(
            "A path cannot contain a NUL character.", "Give where the disk is mounted."
        )
    given = Path(path)
    if not given.is_absolute():
        raise InvalidRequest(
            f"{path!r} is not an absolute path.", "Give where the disk is mounted."
        )
    resolved = given.resolve()
    if not resolved.is_dir():
        raise InvalidRequest(f"{resolved} is not a directory on the server.", "Mount the disk.")
    roots = [r.expanduser().resolve() for r in settings.sneakernet.roots]
    if roots and not any(resolved.is_relative_to(root) for root in roots):
        raise PermissionDenied(
            f"{resolved} is outside the directories allowed for disks.",
            "Mount the disk under one of LIBRARIAN_SERVER_SNEAKERNET__ROOTS.",
        )
    if writable and not os.access(resolved, os.W_OK):
        raise PermissionDenied(f"The server cannot write to {resolved}.", "Check its permissions.")
    return resolved


def check_peer(session: Session, name: str) -> Peer:
    peer = get_peer(session, name)
    check_account(session, name)  # the disk must be signed
    if peer.transfer_managers and MANAGER not in peer.transfer_managers:
        raise InvalidRequest(
            f"Peer {name!r} accepts only {', '.join(peer.transfer_managers)}.",
            f"Add it: `librarian-server update-peer {name} --managers "
            f"{','.join([*peer.transfer_managers, MANAGER])}`.",
        )
    return peer


@dataclass
class _Candidate:
    name: str
    size: int
    checksum: str
    origin: str
    uploader: str
    waiting_id: int | None  # an existing transfer waiting for a retry, taken over


def _plan(
    factory: sessionmaker[Session], peer_name: str, settings: ServerSettings, budget: int | None
) -> tuple[list[_Candidate], int]:
    """The files for this disk, oldest first within the budget; and how many are left."""
    with factory() as session:
        peer = get_peer(session, peer_name)
        waiting = session.execute(  # transfers waiting for a retry: a disk takes them too
            select(
                File.name, File.size, File.checksum, File.source, File.uploader, OutgoingTransfer.id
            )
            .join(OutgoingTransfer, OutgoingTransfer.file_name == File.name)
            .where(
                OutgoingTransfer.destination == peer_name,
                OutgoingTransfer.status == TransferStatus.INITIATED,
                OutgoingTransfer.send_queue_id.is_(None),
            )
            .order_by(File.created_time, File.name)
        ).all()
        fresh = session.execute(lacking(peer, settings, _PLAN_LIMIT)).all()
    candidates = [_Candidate(n, s, c, o, u, i) for n, s, c, o, u, i in waiting]
    candidates += [_Candidate(n, s, c, o, u, None) for n, s, c, o, u in fresh]
    chosen: list[_Candidate] = []
    total = left = 0
    for candidate in candidates:
        if budget is not None and total + candidate.size > budget:
            left += 1  # pack the budget with the files that fit
            continue
        total += candidate.size
        chosen.append(candidate)
    return chosen, left


def export_disk(
    factory: sessionmaker[Session],
    settings: ServerSettings,
    *,
    peer: str,
    root: Path,
    max_bytes: int | None,
    reporter: Reporter,
) -> DiskEvent:
    candidates, left = _plan(factory, peer, settings, max_bytes)
    reporter.start(len(candidates), sum(c.size for c in candidates))
    now = utcnow()
    label = f"{settings.site_name}-{peer}-{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(2)}"
    summary = ExportSummary(label=label, path="", peer=peer, files=0, bytes=0, stopped="complete")
    if not candidates:
        summary.stopped = "nothing_to_send"
        return DiskEvent(event="done", export=summary)
    with factory() as session:
        signing = export_key(session, source=settings.site_name, peer=peer, label=label)
    with factory.begin() as session:
        queue = SendQueue(
            destination=peer,
            status=QueueStatus.ONGOING,
            transfer_manager=MANAGER,
            external_id=label,
            created_time=now,
            updated_time=now,
        )
        session.add(queue)
        session.flush()
        queue_id = queue.id
    header = DiskHeader(
        label=label,
        source=settings.site_name,
        destination=peer,
        created_time=now,
        key=signing.spec,
    )
    writer = DiskWriter(root, header, signing.key)
    summary.path = str(writer.directory)
    step = settings.sneakernet.chunk_files
    try:
        for start in range(0, len(candidates), step):
            chunk = candidates[start : start + step]
            claimed = _claim(factory, queue_id, label, peer, chunk)
            _stage_from_tape(
                factory, settings, [c.name for c in chunk if c.name in claimed], peer, summary
            )
            try:
                summary.stopped = _write(
                    factory, settings, writer, root, chunk, claimed, summary, reporter
                )
            finally:
                unwritten = set(claimed.values()) - writer.listed_ids
                _release(factory, unwritten)
                _count(factory, queue_id, writer.files, writer.bytes)
            if summary.stopped != "complete":
                break
    except Stopped:
        summary.stopped = "interrupted"
    finally:
        writer.finish(summary.stopped, utcnow())
        summary.files, summary.bytes = writer.files, writer.bytes
        _settle_queue(factory, queue_id, writer.files, writer.bytes)
    summary.left = left + len(candidates) - writer.files
    if summary.stopped == "complete" and left:
        summary.stopped = "max_bytes"
    return DiskEvent(event="done", export=summary)


def _claim(
    factory: sessionmaker[Session],
    queue_id: int,
    label: str,
    peer: str,
    chunk: list[_Candidate],
) -> dict[str, int]:
    """Make these files this disk's: their transfers ONGOING via sneakernet, labelled."""
    now = utcnow()
    on_disk = {
        "status": TransferStatus.ONGOING,
        "transfer_manager": MANAGER,
        "external_id": label,
        "send_queue_id": queue_id,
        "updated_time": now,
    }
    with factory.begin() as session:
        compare_and_set(
            session,
            OutgoingTransfer.id,
            [c.waiting_id for c in chunk if c.waiting_id is not None],
            OutgoingTransfer.status == TransferStatus.INITIATED,
            OutgoingTransfer.send_queue_id.is_(None),
            values=on_disk,
            synchronize=False,
        )
        fresh = [c for c in chunk if c.waiting_id is None]
        insert_ignoring_conflicts(
            session,
            OutgoingTransfer.__table__,  # type: ignore[arg-type]
            [
                {
                    "file_name": c.name,
                    "destination": peer,
                    "size": c.size,
                    "checksum": c.checksum,
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_time": now,
                    **on_disk,
                    "status": TransferStatus.ONGOING.value,
                }
                for c in fresh
            ],
        )
        # Those another route took meanwhile (the unique index refused ours) are not ours.
        return {
            name: transfer_id
            for name, transfer_id in session.execute(
                select(OutgoingTransfer.file_name, OutgoingTransfer.id).where(
                    OutgoingTransfer.send_queue_id == queue_id,
                    OutgoingTransfer.file_name.in_([c.name for c in chunk]),
                )
            )
        }


TAPE_REASON = "on tape only here: staging started"


def summary_taped(summary: ExportSummary) -> set[str]:
    return {p.name for p in summary.problems if p.reason.startswith(TAPE_REASON)}


def _stage_from_tape(
    factory: sessionmaker[Session],
    settings: ServerSettings,
    names: list[str],
    peer: str,
    summary: ExportSummary,
) -> None:
    """Files whose only copies here are on tape are not written to this disk: staging
    is started for them (attempts unchanged), and the summary says so."""
    with factory.begin() as session:
        taped = on_tape_only(session, names)
        if not taped:
            return
        job = stage_in_background(
            session,
            sorted(taped),
            owner=f"sneakernet:{peer}",
            settings=settings,
            origin="sneakernet",
        )
    where = f" (job {job})" if job else ""
    for name in sorted(taped):
        summary.problems.append(
            DiskProblem(name=name, reason=f"{TAPE_REASON}{where}; a later export takes it")
        )


def _write(
    factory: sessionmaker[Session],
    settings: ServerSettings,
    writer: DiskWriter,
    root: Path,
    chunk: list[_Candidate],
    claimed: dict[str, int],
    summary: ExportSummary,
    reporter: Reporter,
) -> ExportStop:
    """Copy a claimed step onto the disk and list it; returns why the export stops, if so."""
    with factory() as session:
        sources = local_copies(session, [c.name for c in chunk if c.name in claimed])
    taped = summary_taped(summary)
    entries: list[DiskEntry] = []
    refused: dict[int, str] = {}
    stopped: ExportStop = "complete"
    try:
        for c in chunk:
            if c.name not in claimed:
                continue
            if shutil.disk_usage(root).free - settings.sneakernet.reserve_bytes < c.size:
                stopped = "disk_full"
                break
            source = sources.get(c.name)
            if source is None:
                if c.name not in taped:
                    refused[claimed[c.name]] = "no copy of the file is available on this site"
                continue  # on tape: released unwritten, exported by a later disk
            try:
                path = writer.copy_in(
                    source.open, c.name, c.size, c.checksum, lambda n: reporter.add(nbytes=n)
                )
            except DiskFull:
                stopped = "disk_full"
                break
            except (OSError, ValueError) as exc:
                refused[claimed[c.name]] = f"not written to the disk: {exc}"
                summary.problems.append(DiskProblem(name=c.name, reason=str(exc)))
                continue
            reporter.add(nfiles=1)
            entries.append(
                DiskEntry(
                    name=c.name,
                    size=c.size,
                    checksum=c.checksum,
                    transfer_id=claimed[c.name],
                    path=path,
                    origin=c.origin,
                    uploader=c.uploader,
                )
            )
    finally:
        writer.list(entries)  # what is whole on the disk is listed, even when stopping
        if refused:
            with factory.begin() as session:
                outgoing.retry_or_fail(session, refused, settings=settings.replication)
    return stopped


def _release(factory: sessionmaker[Session], ids: set[int]) -> None:
    """Claimed for the disk but not written: back to the pool, no attempt spent."""
    if not ids:
        return
    with factory.begin() as session:
        session.execute(
            update(OutgoingTransfer)
            .where(OutgoingTransfer.id.in_(ids), OutgoingTransfer.status == TransferStatus.ONGOING)
            .values(
                status=TransferStatus.INITIATED,
                transfer_manager=None,
                external_id=None,
                send_queue_id=None,
                updated_time=utcnow(),
            )
            .execution_options(synchronize_session=False)
        )


def _count(factory: sessionmaker[Session], queue_id: int, files: int, nbytes: int) -> None:
    """What the disk holds so far: right even if the server dies before the export ends."""
    with factory.begin() as session:
        session.execute(
            update(SendQueue)
            .where(SendQueue.id == queue_id)
            .values(file_count=files, total_bytes=nbytes, updated_time=utcnow())
        )


def _settle_queue(factory: sessionmaker[Session], queue_id: int, files: int, nbytes: int) -> None:
    _count(factory, queue_id, files, nbytes)
    with factory.begin() as session:
        queue = session.get(SendQueue, queue_id)
        if queue is None:
            return
        if files == 0:
            queue.status = QueueStatus.COMPLETED
            queue.error = "nothing was written to the disk"
            queue.completed_time = utcnow()
