"""Sneakernet as a transfer manager: bytes that travel on a disk carried by hand.

Never chosen by send_clone (``automatic`` is False): an operator exports a disk
with ``librarian sneakernet export``. Its batches are asynchronous and end when
the destination's check-ins have confirmed (or refused) every file on the disk,
which may be days later; there is no deadline, only ``overdue`` in the status.
"""

from __future__ import annotations

from librarian_client.models import CloneStageResponse
from librarian_server.transfer.base import (
    AsyncStatus,
    Batch,
    BatchOutcome,
    SendItem,
    TaskState,
    TransferManager,
)


class SneakernetManager(TransferManager):
    name = "sneakernet"
    asynchronous = True
    automatic = False

    def receivable(self) -> bool:
        return False  # disks are ingested by hand, never offered in a clone stage

    def valid(self, offer: CloneStageResponse, items: list[SendItem]) -> bool:
        return False

    def transfer_many(self, batch: Batch) -> BatchOutcome:
        raise NotImplementedError("disks are written by `librarian sneakernet export`")

    def status(self, external_id: str) -> AsyncStatus:
        return AsyncStatus(TaskState.ACTIVE)  # news comes by check-in, not by polling
