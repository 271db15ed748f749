"""Which server processes are alive: each registers, heartbeats, and leaves a row.

Start-up clean-up must not remove bytes that another live process may own (a
commit in flight there is invisible here until it commits). So every API process
records itself in ``server_processes`` and refreshes its heartbeat from a small
thread; a process is alive while its heartbeat is recent, and one on this host
whose pid no longer exists is dead at once (a SIGKILLed predecessor does not make
its successor wait for the heartbeat to age).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from librarian_server.orm import ServerProcess, utcnow

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 5.0
# Missing this many beats in a row means dead (a busy process still beats: it is a thread).
ALIVE_FOR = timedelta(seconds=6 * HEARTBEAT_SECONDS)
FORGET_AFTER = timedelta(days=1)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, another user's
        return True
    return True


def register(factory: sessionmaker[Session]) -> int:
    """Record this process; returns its row id. Rows long dead are forgotten here."""
    now = utcnow()
    with factory.begin() as session:
        session.execute(delete(ServerProcess).where(ServerProcess.heartbeat < now - FORGET_AFTER))
        row = ServerProcess(host=socket.gethostname(), pid=os.getpid(), started=now, heartbeat=now)
        session.add(row)
        session.flush()
        return row.id


def beat(factory: sessionmaker[Session], process_id: int) -> None:
    with factory.begin() as session:
        session.execute(
            update(ServerProcess).where(ServerProcess.id == process_id).values(heartbeat=utcnow())
        )


def unregister(factory: sessionmaker[Session], process_id: int) -> None:
    with factory.begin() as session:
        session.execute(delete(ServerProcess).where(ServerProcess.id == process_id))


def others_alive(session: Session, process_id: int | None) -> int:
    """How many other processes may be working on this catalogue right now."""
    host = socket.gethostname()
    recent = session.execute(
        select(ServerProcess.id, ServerProcess.host, ServerProcess.pid).where(
            ServerProcess.heartbeat >= utcnow() - ALIVE_FOR
        )
    ).all()
    return sum(
        1
        for row_id, row_host, pid in recent
        if row_id != process_id and not (row_host == host and not _pid_alive(pid))
    )


class Heartbeat:
    """Registers at start and beats every few seconds in a daemon thread until stopped."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self.factory = factory
        self.process_id = register(factory)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="librarian-heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            try:
                beat(self.factory, self.process_id)
            except Exception:  # the database may be away for a while; try again next beat
                log.warning("heartbeat failed", exc_info=True)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(HEARTBEAT_SECONDS * 2)
        try:
            unregister(self.factory, self.process_id)
        except Exception:
            log.warning("could not remove this process's row", exc_info=True)
