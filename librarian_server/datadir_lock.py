"""One server per data directory on SQLite: an flock on DATA_DIR/server.lock.

SQLite in one data directory is for one server process (the embedded default);
a second one started by mistake would share the catalogue and the staging area
without knowing it. The lock is counted per process: ``librarian-server run`` takes
it before serving (so a second server fails with one readable line) and the app
takes it again while it serves (the ``uvicorn --factory`` entry); the same
process taking it twice is one lock, released when the last holder lets go.
PostgreSQL sites are meant for several processes and take no lock.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from librarian_server.errors import ConfigurationError
from librarian_server.settings import ServerSettings

_held: dict[Path, tuple[int, int]] = {}  # path -> (fd, holders)


def _lock_path(settings: ServerSettings) -> Path:
    return (settings.data_dir / "server.lock").resolve()


def lock_data_dir(settings: ServerSettings) -> None:
    """Take the data directory's lock for this process; refuse if another process holds it."""
    if not settings.sqlalchemy_url.startswith("sqlite"):
        return
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    path = _lock_path(settings)
    if path in _held:
        fd, holders = _held[path]
        _held[path] = (fd, holders + 1)
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "another process"
        os.close(fd)
        raise ConfigurationError(
            f"Another server (pid {holder}) already serves {settings.data_dir} with SQLite.",
            "Stop it first, or use PostgreSQL to run several processes on one catalogue.",
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    _held[path] = (fd, 1)


def unlock_data_dir(settings: ServerSettings) -> None:
    """One holder lets go; the last one closes the lock file."""
    path = _lock_path(settings)
    if path not in _held:
        return
    fd, holders = _held.pop(path)
    if holders > 1:
        _held[path] = (fd, holders - 1)
    else:
        os.close(fd)
