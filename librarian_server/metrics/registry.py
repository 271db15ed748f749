"""Where each process of a site keeps its counters: prometheus-client's multiprocess mode.

Every process (API workers, ``librarian-server background``) writes its counters to
memory-mapped files in one directory, ``DATA_DIR/metrics``, and a scrape answered by
any of them adds up the files of all. The files are named after a *slot*, not a pid:
a process takes the lowest slot no live process holds (an ``flock`` on
``slot-N.lock``, which the kernel drops however the process ends, SIGKILL included) and
goes on counting in that slot's files from where its last holder stopped.

Why slots and not pids: removing a dead process's files while others live would make the
site's totals drop, which Prometheus reads as a counter reset and then counts the live
processes' totals a second time; keeping one file per pid forever grows the directory
with every restart, and two containers sharing the volume would both be pid 1. With
slots nothing is ever deleted, totals never go down, the directory holds one set of files
per process that ever ran *at the same time*, and no process needs to clean up after
another (``mark_process_dead`` only concerns "live" gauges, which this server does not
keep: its gauges are read from the database at scrape time).

``configure(directory)`` must run before the first counter is made in a process (the
counters are made lazily, and remade when the directory changes, which only happens
when tests run several sites in one process).
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import values

log = logging.getLogger(__name__)

ENV = "PROMETHEUS_MULTIPROC_DIR"
MAX_SLOTS = 1024


@dataclass
class _Claim:
    directory: Path
    slot: str
    pid: int
    lock: int  # the open descriptor holding the slot's flock


_guard = threading.Lock()
_claim: _Claim | None = None
_generation = 0


def generation() -> int:
    """Bumped whenever counters must be made afresh (a new directory or a new process)."""
    return _generation


def directory() -> Path | None:
    """The multiprocess directory this process writes to, or None (counting in memory)."""
    claim = _claim
    return claim.directory if claim is not None and claim.pid == os.getpid() else None


def configure(path: Path) -> None:
    """Count into ``path`` from now on (idempotent for the same directory)."""
    global _claim, _generation
    path = path.resolve()
    with _guard:
        if _claim is not None and _claim.directory == path and _claim.pid == os.getpid():
            return
        _release()
        path.mkdir(parents=True, exist_ok=True)
        slot, lock = _take_slot(path)
        _claim = _Claim(path, slot, os.getpid(), lock)
        # The environment is how prometheus-client's values find the directory; the
        # value class is set explicitly, since prometheus-client may have been imported
        # (and have chosen in-memory values) before this process knew its directory.
        os.environ[ENV] = str(path)
        values.ValueClass = values.MultiProcessValue(  # type: ignore[no-untyped-call]
            process_identifier=_identifier
        )
        _generation += 1
    log.debug("metrics of this process go to %s as %s", path, slot)


def prepare() -> None:
    """Before counters are made: a process that was never configured counts in memory,
    even if it inherited PROMETHEUS_MULTIPROC_DIR (a CLI command started from a server's
    environment must not write files into that server's directory)."""
    with _guard:
        if _claim is None:
            values.ValueClass = values.MutexValue


def _identifier() -> str:
    """The slot's name, which prometheus-client puts in the file names. A forked child
    (no server forks, but a library might) takes a slot of its own."""
    claim = _claim
    if claim is not None and claim.pid == os.getpid():
        return claim.slot
    if claim is not None:
        configure_child(claim.directory)
        if _claim is not None:
            return _claim.slot
    return f"pid{os.getpid()}"  # not configured: only reached if values were set by hand


def configure_child(path: Path) -> None:
    global _claim
    with _guard:
        slot, lock = _take_slot(path)
        _claim = _Claim(path, slot, os.getpid(), lock)


def _take_slot(path: Path) -> tuple[str, int]:
    for n in range(MAX_SLOTS):
        fd = os.open(path / f"slot-{n}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        os.set_inheritable(fd, False)
        return f"slot{n}", fd
    raise RuntimeError(f"more than {MAX_SLOTS} live processes count into {path}")


def _release() -> None:
    """Give up this process's slot (only when switching directories, i.e. in tests)."""
    global _claim
    if _claim is not None and _claim.pid == os.getpid():
        os.close(_claim.lock)  # closing the descriptor drops the flock
    _claim = None
