"""The transfer managers this site runs, built from settings, and choosing one per batch."""

from __future__ import annotations

from librarian_client.models import CloneStageResponse

from ..settings import ServerSettings
from .base import SendItem, TransferManager
from .http import HttpManager
from .local import LocalCopyManager

KNOWN = ("local", "http", "globus")


class ManagerRegistry:
    def __init__(self, managers: list[TransferManager], preference: list[str]) -> None:
        self.managers = {m.name: m for m in managers}
        self.preference = [p for p in preference if p in self.managers]

    @classmethod
    def from_settings(cls, settings: ServerSettings) -> ManagerRegistry:
        managers: list[TransferManager] = [
            LocalCopyManager(offer_local_paths=settings.offer_local_paths),
            HttpManager(),
        ]
        if settings.globus.configured:
            from .globus import GlobusManager  # globus-sdk is an optional extra

            managers.append(GlobusManager(settings.globus))
        return cls(managers, settings.replication.transfer_managers)

    def get(self, name: str) -> TransferManager | None:
        return self.managers.get(name)

    def receivable(self) -> list[str]:
        """What this site offers to senders, in its order of preference."""
        return [n for n in self.preference if self.managers[n].receivable()]

    def choose(
        self, peer_accepts: list[str], offer: CloneStageResponse, items: list[SendItem]
    ) -> TransferManager | None:
        """The first of our preferences that the peer accepts and that works for this batch."""
        for name in self.preference:
            manager = self.managers[name]
            if not manager.automatic:
                continue
            if peer_accepts and name not in peer_accepts:
                continue
            if name in offer.managers and manager.valid(offer, items):
                return manager
        return None
