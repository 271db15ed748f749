"""Remembering large uploads in flight, so that running the same upload again resumes them.

A small JSON file under the user's cache directory
(``$XDG_CACHE_HOME/librarian/uploads.json``, else ``~/.cache/...``) maps a server
URL and destination name to the transfer of a large file whose PUT began, with the
local file's path, size and modification time. Running the same upload of the same,
unchanged file again asks the server how much of that transfer it holds and sends
only the rest. An entry goes when its file commits or its transfer fails; one the
server no longer knows is dropped when next seen. The file is a convenience: if it
cannot be read or written, uploads simply start from zero.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

RESUME_MIN = 16 << 20
"""Files from this size on are remembered: one small write is nothing beside their PUT."""
MAX_ENTRIES = 1000


def state_path(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    xdg = env.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "librarian" / "uploads.json"


@dataclass(frozen=True)
class Pending:
    """A large file's transfer whose bytes started to travel, and the local file they are."""

    transfer_id: int
    local: str
    size: int
    mtime_ns: int


class ResumeState:
    """The uploads in flight to one server, as remembered in the state file."""

    def __init__(self, server_url: str, path: Path | None = None) -> None:
        self._server = server_url.rstrip("/")
        self.path = state_path() if path is None else path

    def _key(self, dest: str) -> str:
        return f"{self._server} {dest}"

    def _load(self) -> dict[str, dict[str, object]]:
        try:
            loaded = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return loaded if isinstance(loaded, dict) else {}

    def _save(self, entries: dict[str, dict[str, object]]) -> None:
        if len(entries) > MAX_ENTRIES:  # keep the newest; dicts remember insertion order
            entries = dict(list(entries.items())[-MAX_ENTRIES:])
        with contextlib.suppress(OSError):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}")
            temporary.write_text(json.dumps(entries))
            os.replace(temporary, self.path)

    def lookup(self, dest: str, local: str, size: int, mtime_ns: int) -> int | None:
        """The transfer id remembered for this very file (same path, size and mtime)."""
        entry = self._load().get(self._key(dest))
        if not isinstance(entry, dict):
            return None
        try:
            pending = Pending(**entry)  # type: ignore[arg-type]
        except TypeError:
            return None
        if (pending.local, pending.size, pending.mtime_ns) != (
            os.path.abspath(local),
            size,
            mtime_ns,
        ):
            return None
        return pending.transfer_id

    def remember(self, dest: str, pending: Pending) -> None:
        entries = self._load()
        entries.pop(self._key(dest), None)
        entries[self._key(dest)] = asdict(pending) | {"local": os.path.abspath(pending.local)}
        self._save(entries)

    def forget(self, dests: list[str]) -> None:
        entries = self._load()
        gone = [key for key in map(self._key, dests) if key in entries]
        for key in gone:
            del entries[key]
        if gone:
            self._save(entries)
