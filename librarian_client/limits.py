"""Wire limits and status vocabularies, without pydantic.

The CLI's argument parser needs these (id bounds, ``--status`` choices) to build
``--help``; keeping them here lets it do so without loading the wire models.
``librarian_client.models`` re-exports every name.
"""

from __future__ import annotations

from enum import StrEnum

API_PREFIX = "/api/v2"
"""Where the server mounts its JSON API; every client path starts with it."""
MAX_ID = 2**31 - 1
"""Row ids are 32-bit on PostgreSQL; a larger id names nothing, so it is refused (400)."""
MAX_BYTES = 2**63 - 1
"""Sizes and byte counts are signed 64-bit in the catalogue."""
MAX_SECONDS = 10 * 366 * 24 * 3600
"""Ten years: the longest duration a request may ask for (token lifetimes)."""


class PermissionLevel(StrEnum):
    """Ordered from least to most privileged, except PEER which is a side branch."""

    READONLY = "read-only"
    READAPPEND = "read-append"
    ADMIN = "admin"
    PEER = "peer"


class TransferStatus(StrEnum):
    INITIATED = "INITIATED"
    STAGED = "STAGED"
    ONGOING = "ONGOING"
    STAGED_AT_DEST = "STAGED_AT_DEST"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


class Direction(StrEnum):
    """Which way a transfer goes, seen from this site."""

    OUTGOING = "outgoing"
    INCOMING = "incoming"
