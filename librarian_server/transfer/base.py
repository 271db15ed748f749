"""The transfer-manager interface: how a batch of files' bytes reach a peer.

A manager moves bytes only; it never touches the database. The send service
asks the peer to stage a batch, picks the first manager valid at both ends,
hands it the batch, and records what it reports. Synchronous managers (local
copy, HTTP) finish in ``transfer_many``; asynchronous ones (Globus) return an
external id that ``status`` is polled with. Managers that are not ``automatic``
(a disk carried by hand) are never chosen by the scheduler.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import BinaryIO, ClassVar

from librarian_client.models import CloneStagedItem, CloneStageResponse
from librarian_server.transfer.peer_client import PeerClient


@dataclass(frozen=True)
class SendItem:
    transfer_id: int
    """Our OutgoingTransfer id."""
    name: str
    size: int
    checksum: str
    source_path: Path | None
    """This site's copy, as a local absolute path (None on an object store)."""
    store_name: str
    store_root: Path
    """The root of the store holding ``source_path``: managers that address files on a
    service of their own (Globus) map the path below it."""
    staged: CloneStagedItem
    """Where the peer wants the bytes (its transfer id, PUT path, local or Globus path)."""
    open_source: Callable[[], BinaryIO] | None = None
    """Opens this site's copy for reading, on any kind of store."""

    def open(self) -> BinaryIO:
        if self.open_source is not None:
            return self.open_source()
        if self.source_path is None:
            raise FileNotFoundError(f"no way to read this site's copy of {self.name!r}")
        return open(self.source_path, "rb")

    @property
    def label(self) -> str:
        return str(self.source_path) if self.source_path is not None else self.name


@dataclass
class Batch:
    peer: PeerClient
    offer: CloneStageResponse
    items: list[SendItem]
    label: str
    heartbeat: Callable[[], None] = lambda: None
    """Call now and then during long work: it renews this worker's claim on the batch."""
    submission_id: str | None = None


@dataclass
class BatchOutcome:
    sent: list[int] = field(default_factory=list)
    """Transfers whose bytes are now at the peer (synchronous managers)."""
    failed: dict[int, str] = field(default_factory=dict)
    """Transfers that failed, with the reason."""
    external_id: str | None = None
    """Asynchronous managers: the id to poll (e.g. a Globus task id)."""
    bad_copies: dict[int, str] = field(default_factory=dict)
    """Transfers whose source, this site's own copy, did not read back as catalogued (its
    checksum or size differs): the copy is bad, not the trip. Also in ``failed``."""


class TransferError(Exception):
    """The manager could not take the batch (its service refused it or could not be
    reached): every file in it goes back to the pool with a backoff, one attempt spent."""


class TransferBusy(TransferError):
    """Nothing was sent because the manager is at its limit of work in flight: the files
    go back to the pool after a backoff without spending an attempt, since none was made."""


class TaskState(StrEnum):
    ACTIVE = "ACTIVE"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


@dataclass(frozen=True)
class AsyncStatus:
    state: TaskState
    detail: str | None = None


class TransferManager(ABC):
    name: ClassVar[str]
    asynchronous: ClassVar[bool] = False
    automatic: ClassVar[bool] = True
    deadline: timedelta | None = None
    """Asynchronous managers: a batch still running after this long is cancelled."""

    @abstractmethod
    def receivable(self) -> bool:
        """Whether this site can take bytes this way (it then offers it to senders)."""

    @abstractmethod
    def valid(self, offer: CloneStageResponse, items: list[SendItem]) -> bool:
        """Whether this batch can go this way, from here to the peer that made ``offer``."""

    @abstractmethod
    def transfer_many(self, batch: Batch) -> BatchOutcome:
        """Send the batch, or submit it (asynchronous managers). Raises ``TransferError``
        when the batch as a whole cannot go, ``TransferBusy`` when it should wait."""

    def new_submission_id(self) -> str | None:
        """Asynchronous managers: an id stored before submitting, so a retry is not a
        second submission."""
        return None

    def status(self, external_id: str) -> AsyncStatus:
        raise NotImplementedError(f"{self.name} transfers finish synchronously")

    def cancel(self, external_id: str) -> None:  # noqa: B027 - optional, not abstract
        """Stop an asynchronous transfer; synchronous managers have nothing to cancel."""
