"""The shape of a background task: a name, a schedule from settings, and ``run(ctx)``.

Tasks take a session *factory*, not a session: most of them call peers over the
network, and no transaction may stay open across a network call.
"""

from __future__ import annotations

import os
import socket
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from sqlalchemy.orm import Session, sessionmaker

from librarian_server.services.replication.peers import PeerDialer
from librarian_server.settings import ServerSettings, TaskSchedule
from librarian_server.transfer import ManagerRegistry


def worker_name() -> str:
    """Who holds a claim: enough for an operator to find the process."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class TaskContext:
    factory: sessionmaker[Session]
    settings: ServerSettings
    managers: ManagerRegistry
    dialer: PeerDialer
    schedule: TaskSchedule
    worker: str = field(default_factory=worker_name)
    started: float = field(default_factory=time.monotonic)

    @property
    def batch_size(self) -> int:
        return self.schedule.batch_size

    def time_left(self) -> float:
        return self.schedule.time_limit_seconds - (time.monotonic() - self.started)

    def out_of_time(self) -> bool:
        """A run stops *starting* work once its time is up; work under way finishes."""
        return self.time_left() <= 0


class Task(ABC):
    name: ClassVar[str]

    @abstractmethod
    def run(self, ctx: TaskContext) -> dict[str, Any]:
        """Do one bounded round of work; return counts for the log and the admin API."""
