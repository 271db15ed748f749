"""HTTP: bytes streamed to the peer's clone endpoints, hashed on the fly.

Files up to 1 MiB travel in bundles (one request for up to a thousand), larger
ones in a streamed PUT each, so memory stays constant whatever the size and many
small files cost a few requests. The peer checks every file against the size
and checksum given at stage; we check what we read against the catalogue.
"""

from __future__ import annotations

from librarian_client.checksum import parse_checksum
from librarian_client.exceptions import LocalFileChanged
from librarian_client.models import CloneStageResponse
from librarian_client.streaming import BUNDLE_FILE_MAX, bundles
from librarian_server.errors import PeerError
from librarian_server.transfer.base import Batch, BatchOutcome, SendItem, TransferManager
from librarian_server.transfer.peer_client import SentFile


class HttpManager(TransferManager):
    name = "http"

    def receivable(self) -> bool:
        return True

    def valid(self, offer: CloneStageResponse, items: list[SendItem]) -> bool:
        return all(i.staged.put_path and i.staged.transfer_id for i in items)

    def transfer_many(self, batch: Batch) -> BatchOutcome:
        outcome = BatchOutcome()

        def progress(nbytes: int, nfiles: int) -> None:
            batch.heartbeat()

        def sent_file(item: SendItem) -> SentFile:
            return SentFile(
                item.open, item.label, item.size, parse_checksum(item.checksum)[0], progress
            )

        small = [i for i in batch.items if i.size <= BUNDLE_FILE_MAX]
        for group in bundles(small, lambda i: i.size):
            files = [sent_file(i) for i in group]
            try:
                answer = batch.peer.bundle([i.staged.transfer_id or 0 for i in group], files)
            except (OSError, LocalFileChanged) as exc:
                # Our side failed mid-bundle: the peer saw a short body and refused it.
                for item in group:
                    outcome.failed[item.transfer_id] = f"reading this site's copy failed: {exc}"
                if isinstance(exc, LocalFileChanged):
                    # Files are read in order: the last one opened is the one that changed.
                    opened = sum(1 for f in files if f.reader is not None)
                    outcome.bad_copies[group[max(opened - 1, 0)].transfer_id] = str(exc)
                continue
            reasons = {r.transfer_id: r.reason for r in answer.files}
            for item, sent in zip(group, files, strict=True):
                self._settle(item, sent, reasons.get(item.staged.transfer_id or 0), outcome)
            batch.heartbeat()
        for item in batch.items:
            if item.size <= BUNDLE_FILE_MAX:
                continue
            sent = sent_file(item)
            try:
                batch.peer.put(item.staged.put_path or "", sent)
                reason = None
            except PeerError as exc:
                if exc.peer_wide:
                    raise  # the peer or the network, not this file: fail the batch
                reason = exc.reason
            except LocalFileChanged as exc:
                reason = f"this site's copy is not as catalogued: {exc}"
                outcome.bad_copies[item.transfer_id] = str(exc)
            except OSError as exc:
                reason = f"reading this site's copy failed: {exc}"
            self._settle(item, sent, reason, outcome)
        return outcome

    @staticmethod
    def _settle(item: SendItem, sent: SentFile, refused: str | None, out: BatchOutcome) -> None:
        if sent.checksum is not None and sent.checksum != item.checksum:
            out.failed[item.transfer_id] = out.bad_copies[item.transfer_id] = (
                f"this site's copy of {item.name} hashes to {sent.checksum}, not {item.checksum}"
            )
        elif refused is not None:
            out.failed[item.transfer_id] = f"refused by the peer: {refused}"
        else:
            out.sent.append(item.transfer_id)
