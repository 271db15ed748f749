"""Local copy: the peer's store is on a filesystem this process can write.

Chosen only when the peer's store marker is readable here with the right UUID,
the same test a client uses for its local-copy upload. Bytes are read once and
hashed as they are copied; the peer hashes them again when it commits.
"""

from __future__ import annotations

from librarian_client.checksum import parse_checksum
from librarian_client.exceptions import LocalFileChanged
from librarian_client.models import CloneStageResponse
from librarian_client.streaming import copy_hashing, marker_matches
from librarian_server.transfer.base import Batch, BatchOutcome, SendItem, TransferManager


class LocalCopyManager(TransferManager):
    name = "local"

    def __init__(self, *, offer_local_paths: bool) -> None:
        self.offer_local_paths = offer_local_paths
        self._markers: dict[tuple[str, str], bool] = {}

    def receivable(self) -> bool:
        return self.offer_local_paths

    def valid(self, offer: CloneStageResponse, items: list[SendItem]) -> bool:
        if offer.local is None or not all(
            i.staged.local_path and i.source_path is not None for i in items
        ):
            return False
        key = (offer.local.store_marker, offer.local.store_uuid)
        if key not in self._markers:
            self._markers[key] = marker_matches(*key)
        return self._markers[key]

    def transfer_many(self, batch: Batch) -> BatchOutcome:
        outcome = BatchOutcome()

        def progress(nbytes: int, nfiles: int) -> None:
            batch.heartbeat()

        for item in batch.items:
            target = item.staged.local_path or ""
            algorithm = parse_checksum(item.checksum)[0]
            try:
                copied = copy_hashing(str(item.source_path), target, item.size, algorithm, progress)
            except LocalFileChanged as exc:
                outcome.failed[item.transfer_id] = outcome.bad_copies[item.transfer_id] = (
                    f"this site's copy is not as catalogued: {exc}"
                )
                continue
            except OSError as exc:
                outcome.failed[item.transfer_id] = f"local copy to {target} failed: {exc}"
                continue
            if copied != item.checksum:
                outcome.failed[item.transfer_id] = outcome.bad_copies[item.transfer_id] = (
                    f"this site's copy of {item.name} hashes to {copied}, not {item.checksum}"
                )
                continue
            outcome.sent.append(item.transfer_id)
        return outcome
