"""What integrity work needs from other sites, as interfaces the higher layers fill in.

Integrity sits below replication, so it cannot call peers itself: repair is handed
``ReplacementSource``s (another store here, or a peer) and release is handed a
``CopyProver`` that asks other sites to re-hash their copies now. A peer's catalogue
row is never proof; only a ``Proof`` from a fresh re-hash is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol


class ReplacementSource(Protocol):
    """Somewhere a good copy of a damaged file may be had from."""

    def fetch(self, file_name: str, size: int, checksum: str, dest: Path) -> str | None:
        """Write the file's bytes to ``dest`` (a fresh staging path) from a copy this
        source has just proven; return where they came from (``"store slow"``,
        ``"peer beta"``), or None when it has no good copy. The caller hashes ``dest``
        again before committing, so a source that lies costs a retry, never a bad copy."""
        ...


@dataclass(frozen=True)
class Proof:
    """A site's answer for one of its copies: re-hashed just now, and what it found."""

    site: str
    name: str
    ok: bool
    verified_time: datetime | None
    detail: str = ""


class CopyProver(Protocol):
    """Asks other sites to re-hash their copies of files now and says what they found."""

    def prove(self, names_by_site: Mapping[str, Sequence[str]]) -> dict[tuple[str, str], Proof]:
        """Keyed by (site, name). A site that cannot be reached, or does not answer in
        time, gives ``ok=False`` proofs saying so: silence never counts as a copy."""
        ...
