"""Scheduled background work: replication, verification, reconciliation, clean-up."""

from librarian_server.background.runner import Runner
from librarian_server.background.task import Task, TaskContext

__all__ = ["Runner", "Task", "TaskContext"]
