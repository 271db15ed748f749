"""Transfer managers: local copy, HTTP and Globus behind one small interface."""

from librarian_server.transfer.base import (
    AsyncStatus,
    Batch,
    BatchOutcome,
    SendItem,
    TaskState,
    TransferBusy,
    TransferError,
    TransferManager,
)
from librarian_server.transfer.registry import KNOWN, ManagerRegistry

__all__ = [
    "KNOWN",
    "AsyncStatus",
    "Batch",
    "BatchOutcome",
    "ManagerRegistry",
    "SendItem",
    "TaskState",
    "TransferBusy",
    "TransferError",
    "TransferManager",
]
