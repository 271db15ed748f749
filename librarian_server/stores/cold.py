"""A cold store: a directory on a tape system's filesystem (its disk cache).

Written like a POSIX store (a commit is a rename onto the disk cache, which the tape
system archives), but a copy may later be *offline*: its bytes only on tape, absent
from the disk cache until the tape system stages them back. Which copies are online
is the catalogue's business (``Instance.available`` and the staging tables); this
backend only knows how to name a copy to the tape system and how to reach it.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

from librarian_server.errors import ConfigurationError
from librarian_server.stores.posix import PosixStore
from librarian_server.stores.tape import TapeError, TapeSystem


class ColdOptions(BaseModel):
    """How to reach the tape system; the account's password stays in its file."""

    url: str = Field(pattern=r"^https?://[^\s]+$", description="The tape system's REST API.")
    credentials_file: str = Field(
        description="An INI file whose [tape] section holds account and password."
    )
    namespace: str | None = Field(
        default=None,
        description="The store root's path as the tape system names it (None: the same "
        "absolute path as here).",
    )
    verify_tls: bool = True
    timeout_seconds: float = Field(default=30.0, gt=0)


class ColdStore(PosixStore):
    def __init__(self, root: Path | str, uuid: str, options: ColdOptions, tape: TapeSystem) -> None:
        super().__init__(root, uuid)
        self.options = options
        self.tape = tape
        self._namespace = (options.namespace or str(Path(root).resolve())).rstrip("/")

    def tape_path(self, store_path: str) -> str:
        """The tape system's name for a committed copy (its file under the root)."""
        return f"{self._namespace}/{self.local_path(store_path).relative_to(self.root)}"

    def describe(self, store_path: str) -> str:
        return f"{self.tape_path(store_path)} (cold)"

    def check(self) -> None:
        super().check()
        try:
            self.tape.login()
            state = self.tape.cache_state()
        except TapeError as exc:
            raise ConfigurationError(
                f"The tape system at {self.options.url} cannot be used: {exc}",
                "Check the cold store's URL and the account in its credentials file.",
            ) from None
        if not state.healthy:
            raise ConfigurationError(
                f"The tape system at {self.options.url} reports its disk cache unhealthy: "
                f"{state.detail or 'no detail given'}.",
                "Ask the tape system's operators; the store is used again once it is healthy.",
            )
