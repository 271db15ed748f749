"""The transfer managers this site runs, built from settings, and choosing one per batch."""

from __future__ import annotations

from librarian_client.models import CloneStageResponse
from librarian_server.settings import ServerSettings
from librarian_server.transfer.base import SendItem, TransferManager
from librarian_server.transfer.http import HttpManager
from librarian_server.transfer.local import LocalCopyManager
from librarian_server.transfer.sneakernet import SneakernetManager

KNOWN = ("local", "http", "globus", "sneakernet")


class ManagerRegistry:
    def __init__(self, managers: list[TransferManager], preference: list[str]) -> None:
        self.managers = {m.name: m for m in managers}
        automatic = {n for n, m in self.managers.items() if m.automatic}
        self.preference = [p for p in preference if p in automatic]

    @classmethod
    def from_settings(cls, settings: ServerSettings) -> ManagerRegistry:
        managers: list[TransferManager] = [
            LocalCopyManager(offer_local_paths=settings.offer_local_paths),
            HttpManager(),
            SneakernetManager(),
        ]
        if settings.globus.configured:
            from librarian_server.transfer.globus import (
                GlobusManager,  # globus-sdk is an optional extra
            )

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
