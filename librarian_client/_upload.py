"""The upload pipeline: stage a batch, send each file's bytes once, commit the batch.

Split from ``client.py`` because it is the one part with real logic: the three
stage outcomes, the local-copy shortcut with its HTTP fallback, and keeping
per-request work small enough that a thousand 4 KiB files cost milliseconds.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import threading
import time
import unicodedata
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from functools import partial
from itertools import islice
from typing import BinaryIO, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict

from librarian_client._resume import RESUME_MIN, Pending, ResumeState
from librarian_client.checksum import checksum_file, normalise_checksum, parse_checksum
from librarian_client.exceptions import (
    AlreadyExists,
    LibrarianClientError,
    LibrarianHTTPError,
    ProtocolError,
    TransferRunning,
    VerificationFailed,
)
from librarian_client.http import parse_model
from librarian_client.limits import API_PREFIX as API
from librarian_client.models import (
    CommitItem,
    StagedTransfer,
    StageItem,
    StageOutcome,
    TransferStatus,
    UploadBundleResponse,
    UploadCancelRequest,
    UploadCommitRequest,
    UploadCommitResponse,
    UploadOffsetResponse,
    UploadPutResponse,
    UploadStageRequest,
    UploadStageResponse,
)
from librarian_client.streaming import (
    BUNDLE_FILE_MAX,
    CHUNK_SIZE,
    HashingReader,
    ProgressCallback,
    bundle_body,
    bundles,
    copy_hashing,
    file_body,
    marker_matches,
    octet_headers,
)

MAX_BATCH = 10_000
# Sent files are committed about this often, so that the file counter moves as they
# land and an interruption loses little; a commit is one round trip.
COMMIT_INTERVAL = 1.0
HELD_RETRIES = 20  # x 0.5 s: how long to wait for a killed attempt's request to end

Send = Callable[..., httpx.Response]
M = TypeVar("M", bound=BaseModel)


class UploadResult(BaseModel):
    """What one ``(local, dest)`` pair ended as: a committed file, new or already present.

    ``CommittedFile`` cannot describe a file that was already there (it has no
    transfer), hence this client-side shape with the same fields plus a flag.
    """

    model_config = ConfigDict(frozen=True)

    name: str
    size: int
    checksum: str
    transfer_id: int | None
    already_present: bool = False


@dataclass(slots=True)
class _Item:
    local: str
    dest: str
    size: int = field(init=False)
    mtime_ns: int = field(init=False)

    def __post_init__(self) -> None:
        # The server stores names in NFC; a macOS file name arrives in NFD. Send the stored
        # form, so the answer names the same string (the server refuses names it cannot take).
        self.dest = unicodedata.normalize("NFC", self.dest)
        # Stat up front: a missing file fails the batch before anything is staged.
        self.size, self.mtime_ns = _stat_regular(self.local)


def _stat_regular(local: str) -> tuple[int, int]:
    """Size and mtime of a regular file (symlinks followed); anything else is an OSError."""
    info = os.stat(local)
    if not stat.S_ISREG(info.st_mode):
        raise IsADirectoryError(errno.EISDIR, "Not a regular file", local)
    return info.st_size, info.st_mtime_ns


class _Aborted(Exception):
    """Another transfer of the batch failed, or Ctrl-C: stop sending at the next chunk."""


Job = Callable[[], list[CommitItem]]


class Uploader:
    """One ``upload_many`` call; holds the per-call caches (marker checks).

    With ``transfers`` > 1, the files of a batch (large files one by one, small ones
    by bundle) are sent by that many threads over the one keep-alive pool.
    """

    def __init__(
        self,
        send: Send,
        progress: ProgressCallback,
        transfers: int = 1,
        resume: ResumeState | None = None,
    ) -> None:
        if transfers < 1:
            raise ValueError(f"transfers must be at least 1, not {transfers}")
        self._send = send
        self._user_progress = progress
        self._transfers = transfers
        self._abort = threading.Event()
        self._committed: set[int] = set()
        self._markers: dict[tuple[str, str], bool] = {}
        self._resume = resume
        self._resume_lock = threading.Lock()  # the state file is shared by the senders
        self._offsets: dict[int, int] = {}  # transfer id -> bytes the server holds
        self._kept: set[int] = set()  # transfers left open on failure, for a later resume

    def _progress(self, nbytes: int, nfiles: int) -> None:
        if self._abort.is_set():
            raise _Aborted()
        self._user_progress(nbytes, nfiles)

    def run(
        self, pairs: Iterable[tuple[str | os.PathLike[str], str]], batch_size: int
    ) -> list[UploadResult]:
        if not 1 <= batch_size <= MAX_BATCH:
            raise ValueError(f"batch_size must be between 1 and {MAX_BATCH}, not {batch_size}")
        results: list[UploadResult] = []
        iterator: Iterator[tuple[str | os.PathLike[str], str]] = iter(pairs)
        while batch := list(islice(iterator, batch_size)):
            items = [_Item(os.fspath(local), dest) for local, dest in batch]
            results.extend(self._batch(items))
        return results

    def _batch(self, items: list[_Item]) -> list[UploadResult]:
        resumed = self._resumable(items)
        fresh = [item for index, item in enumerate(items) if index not in resumed]
        transfers = dict(resumed)
        if fresh:
            request = UploadStageRequest(
                files=[StageItem(name=item.dest, size=item.size) for item in fresh]
            )
            response = self._send(
                "POST",
                f"{API}/upload/stage",
                json=request.model_dump(mode="json", exclude_none=True),
            )
            staged = parse_model(UploadStageResponse, response, "upload/stage")
            if [t.name for t in staged.transfers] != [item.dest for item in fresh]:
                raise ProtocolError("The server's stage answer does not list the files asked for.")
            others = (index for index in range(len(items)) if index not in resumed)
            transfers.update(zip(others, staged.transfers, strict=True))
        ordered = [transfers[index] for index in range(len(items))]

        staged_ids = [t.transfer_id for t in ordered if t.transfer_id is not None]
        try:
            return self._settle(items, ordered)
        except BaseException:
            # Give the server its room and staging space back now, not at the timeout;
            # except for what was committed, and large files under way (a re-run resumes).
            dropped = [i for i in staged_ids if i not in self._committed | self._kept]
            if dropped:
                self._cancel(dropped)
            raise

    def _resumable(self, items: list[_Item]) -> dict[int, StagedTransfer]:
        """Items whose earlier attempt left a transfer open on the server: index -> it."""
        found: dict[int, StagedTransfer] = {}
        if self._resume is None:
            return found
        stale: list[str] = []
        for index, item in enumerate(items):
            if item.size < RESUME_MIN:
                continue
            transfer_id = self._resume.lookup(item.dest, item.local, item.size, item.mtime_ns)
            if transfer_id is None:
                continue
            held = self._held(transfer_id)
            if held is None or held.name != item.dest or held.expected_size != item.size:
                stale.append(item.dest)
                continue
            found[index] = StagedTransfer(
                name=item.dest,
                outcome=StageOutcome.STAGED,
                transfer_id=transfer_id,
                put_path=f"{API}/upload/{transfer_id}",
                checksum_algorithm=held.checksum_algorithm,
            )
            self._offsets[transfer_id] = held.offset
        if stale:
            self._resume.forget(stale)
        return found

    def _held(self, transfer_id: int) -> UploadOffsetResponse | None:
        """What the server holds of an earlier attempt's transfer; None if it is not open."""
        path = f"{API}/upload/{transfer_id}"
        for attempt in range(HELD_RETRIES):
            try:
                response = self._send("GET", path)
            except LibrarianHTTPError as exc:
                if isinstance(exc, TransferRunning) and attempt + 1 < HELD_RETRIES:
                    # The killed attempt's request has not ended on the server yet.
                    time.sleep(0.5)
                    continue
                if exc.status_code in (403, 404, 409):
                    return None
                raise
            held = parse_model(UploadOffsetResponse, response, f"GET {path}")
            open_ = held.status in (TransferStatus.INITIATED, TransferStatus.STAGED)
            return held if open_ else None
        return None

    def _cancel(self, transfer_ids: list[int]) -> None:
        body = UploadCancelRequest(transfer_ids=transfer_ids).model_dump(mode="json")
        with contextlib.suppress(LibrarianClientError, httpx.HTTPError):
            self._send("POST", f"{API}/upload/cancel", json=body)

    def _settle(self, items: list[_Item], staged: list[StagedTransfer]) -> list[UploadResult]:
        results: list[UploadResult | None] = [None] * len(items)
        # Settle the name clashes before moving any bytes, so a conflict fails fast.
        for index, (item, transfer) in enumerate(zip(items, staged, strict=True)):
            if transfer.outcome is StageOutcome.ALREADY_PRESENT:
                checksum = transfer.existing_checksum or checksum_file(
                    item.local, transfer.checksum_algorithm, CHUNK_SIZE
                )
                results[index] = self._present(item, transfer, checksum)
            elif transfer.outcome is StageOutcome.EXISTS:
                results[index] = self._compare_existing(item, transfer)

        commits: list[CommitItem] = []
        waiting: dict[int, int] = {}
        small: list[tuple[_Item, StagedTransfer]] = []
        jobs: list[Job] = []
        for index, (item, transfer) in enumerate(zip(items, staged, strict=True)):
            if transfer.outcome is StageOutcome.STAGED:
                if transfer.transfer_id is None or transfer.put_path is None:
                    raise ProtocolError(f"The server staged {item.dest} without a transfer id.")
                waiting[transfer.transfer_id] = index
                if item.size > BUNDLE_FILE_MAX:
                    jobs.append(partial(self._send_large, item, transfer))
                    continue
                copied = self._local_copy(item, transfer)
                if copied is None:
                    small.append((item, transfer))  # sent below, many per request
                else:
                    commits.append(CommitItem(transfer_id=transfer.transfer_id, checksum=copied))
        jobs.extend(partial(self._send_group, group) for group in bundles(small, _item_size))

        last_commit = time.monotonic()
        with contextlib.closing(self._run(jobs)) as finished:  # closed at once on failure
            for sent in finished:
                commits.extend(sent)
                if commits and time.monotonic() - last_commit >= COMMIT_INTERVAL:
                    self._commit(commits, waiting, results)
                    commits, last_commit = [], time.monotonic()
        if commits:
            self._commit(commits, waiting, results)
        if waiting:
            raise ProtocolError(
                f"The server did not confirm {len(waiting)} of the committed transfers."
            )
        return [result for result in results if result is not None]

    def _run(self, jobs: list[Job]) -> Generator[list[CommitItem], None, None]:
        """Each job's commits as it finishes; the first failure stops the others."""
        if self._transfers == 1 or len(jobs) <= 1:
            for job in jobs:
                yield job()
            return
        pool = ThreadPoolExecutor(self._transfers, thread_name_prefix="librarian-upload")
        futures: list[Future[list[CommitItem]]] = []
        try:
            futures = [pool.submit(job) for job in jobs]
            for future in as_completed(futures):
                yield future.result()
        finally:
            self._abort.set()  # a no-op when all are done; stops the others otherwise
            pool.shutdown(wait=True, cancel_futures=True)
            self._abort.clear()

    def _send_large(self, item: _Item, transfer: StagedTransfer) -> list[CommitItem]:
        assert transfer.transfer_id is not None and transfer.put_path is not None  # noqa: S101
        resuming = transfer.transfer_id in self._offsets
        copied = None if resuming else self._local_copy(item, transfer)
        checksum = copied or self._put_resumable(item, transfer)
        return [CommitItem(transfer_id=transfer.transfer_id, checksum=checksum)]

    def _send_group(self, group: list[tuple[_Item, StagedTransfer]]) -> list[CommitItem]:
        return [
            CommitItem(transfer_id=transfer.transfer_id or 0, checksum=checksum)
            for (_, transfer), checksum in zip(group, self._send_bundle(group), strict=True)
        ]

    def _commit(
        self, commits: list[CommitItem], waiting: dict[int, int], results: list[UploadResult | None]
    ) -> None:
        body = UploadCommitRequest(files=commits).model_dump(mode="json")
        response = self._send("POST", f"{API}/upload/commit", json=body)
        committed = parse_model(UploadCommitResponse, response, "upload/commit")
        for done in committed.files:
            index = waiting.pop(done.transfer_id, -1)
            if index < 0:
                raise ProtocolError(f"The server committed an unknown transfer {done.transfer_id}.")
            self._committed.add(done.transfer_id)
            results[index] = UploadResult(
                name=done.name,
                size=done.size,
                checksum=done.checksum,
                transfer_id=done.transfer_id,
            )
        self._forget([done.name for done in committed.files])
        self._user_progress(0, len(committed.files))

    def _present(self, item: _Item, transfer: StagedTransfer, checksum: str) -> UploadResult:
        self._progress(item.size, 1)
        return UploadResult(
            name=item.dest,
            size=transfer.existing_size if transfer.existing_size is not None else item.size,
            checksum=normalise_checksum(checksum),
            transfer_id=None,
            already_present=True,
        )

    def _compare_existing(self, item: _Item, transfer: StagedTransfer) -> UploadResult:
        """The name exists and we sent no checksum: same bytes is success, else 409."""
        existing = transfer.existing_checksum
        if existing is None:
            raise ProtocolError(f"The server says {item.dest} exists but gives no checksum.")
        expected = normalise_checksum(existing)
        algorithm, _ = parse_checksum(expected)
        same_size = transfer.existing_size is None or transfer.existing_size == item.size
        ours = checksum_file(item.local, algorithm, CHUNK_SIZE) if same_size else None
        if ours != expected:
            detail = (
                f"{expected}, local file {ours}"
                if ours
                else (f"{transfer.existing_size} bytes, local file {item.size} bytes")
            )
            raise AlreadyExists(
                409,
                f"{item.dest} already exists on the server with different contents "
                f"(server {detail}).",
            )
        return self._present(item, transfer, expected)

    def _local_copy(self, item: _Item, transfer: StagedTransfer) -> str | None:
        """Copy straight into staging when we share the store's filesystem; None otherwise."""
        if not (transfer.local_path and transfer.store_marker and transfer.store_uuid):
            return None
        key = (transfer.store_marker, transfer.store_uuid)
        if key not in self._markers:
            self._markers[key] = marker_matches(*key)
        if not self._markers[key]:
            return None
        try:
            return copy_hashing(
                item.local,
                transfer.local_path,
                item.size,
                transfer.checksum_algorithm,
                self._progress,
            )
        except OSError:
            return None  # e.g. read-only mount or permissions: HTTP always works

    def _send_bundle(self, group: list[tuple[_Item, StagedTransfer]]) -> list[str]:
        """Send many small files in one request: a JSON header line, then their bytes."""
        readers: list[HashingReader] = []

        def reader_for(item: _Item, algorithm: str) -> Callable[[BinaryIO], HashingReader]:
            def open_reader(handle: BinaryIO) -> HashingReader:
                reader = HashingReader(handle, item.local, item.size, algorithm, self._progress)
                readers.append(reader)
                return reader

            return open_reader

        body, headers = bundle_body(
            [t.transfer_id or 0 for _, t in group],
            [(i.local, i.size, reader_for(i, t.checksum_algorithm)) for i, t in group],
        )
        response = self._send("POST", f"{API}/upload/bundle", content=body, headers=headers)
        received = parse_model(UploadBundleResponse, response, "upload/bundle")
        by_id = {r.transfer_id: r for r in received.files}
        checksums = []
        for (item, transfer), reader in zip(group, readers, strict=True):
            answer = by_id.get(transfer.transfer_id or 0)
            if answer is None:
                raise ProtocolError(f"The bundle answer does not mention {item.dest}.")
            checksums.append(_agree(item, answer, reader.checksum, transfer.checksum_algorithm))
        return checksums

    def _forget(self, dests: list[str]) -> None:
        if self._resume is not None and dests:
            with self._resume_lock:
                self._resume.forget(dests)

    def _put_resumable(self, item: _Item, transfer: StagedTransfer) -> str:
        """PUT a file; a large one is remembered first, so that an interrupted PUT resumes.

        A verification failure ends its transfer on the server (and here): the next
        attempt starts from zero.
        """
        transfer_id = transfer.transfer_id or 0
        if self._resume is None or item.size < RESUME_MIN:
            return self._put(item, transfer.put_path or "", transfer.checksum_algorithm)
        if transfer_id not in self._offsets:
            pending = Pending(transfer_id, item.local, item.size, item.mtime_ns)
            with self._resume_lock:
                self._resume.remember(item.dest, pending)
        self._kept.add(transfer_id)
        try:
            return self._put(
                item,
                transfer.put_path or "",
                transfer.checksum_algorithm,
                self._offsets.get(transfer_id, 0),
            )
        except (LibrarianHTTPError, VerificationFailed):
            self._kept.discard(transfer_id)  # refused, not interrupted: do not resume it
            self._forget([item.dest])
            raise

    def _put(self, item: _Item, put_path: str, algorithm: str, offset: int = 0) -> str:
        left = item.size - offset
        headers = octet_headers(left)
        with open(item.local, "rb") as handle:
            reader = HashingReader(handle, item.local, item.size, algorithm, self._progress)
            params = {}
            if offset:
                reader.skip_held(offset)
                params["offset"] = str(offset)
            content = file_body(reader, item.size)
            response = self._send("PUT", put_path, content=content, headers=headers, params=params)
        received = parse_model(UploadPutResponse, response, f"PUT {put_path}")
        return _agree(item, received, reader.checksum, algorithm)


def _agree(item: _Item, received: UploadPutResponse, ours: str, algorithm: str) -> str:
    """Check the server's count and hash of what it received against ours."""
    if received.size == item.size and received.checksum == ours:
        return ours  # the common case, without re-parsing the checksum
    theirs = normalise_checksum(received.checksum)
    if received.size != item.size or (parse_checksum(theirs)[0] == algorithm and theirs != ours):
        raise VerificationFailed(
            422,
            f"The server received {received.size} bytes ({theirs}) for {item.dest}; "
            f"sent {item.size} bytes ({ours}).",
            "Upload again; if it persists, check the network path to the server.",
        )
    return ours


def _item_size(entry: tuple[_Item, StagedTransfer]) -> int:
    return entry[0].size
