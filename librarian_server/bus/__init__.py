"""The message bus on which tape systems announce staged files."""

from librarian_server.bus.base import EventHandler, EventSource

__all__ = ["EventHandler", "EventSource"]
