"""Scheduled background work: replication, verification, reconciliation, clean-up."""

from .runner import Runner
from .task import Task, TaskContext

__all__ = ["Runner", "Task", "TaskContext"]
