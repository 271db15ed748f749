"""Logging set-up: console plus a rotating file in the data directory."""

from __future__ import annotations

import logging
import logging.handlers

from .settings import ServerSettings

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(settings: ServerSettings, *, to_file: bool = True) -> None:
    """``to_file=False`` for extra API workers: one rotating file cannot take several writers."""
    root = logging.getLogger()
    root.setLevel(settings.log_level.upper())
    for handler in list(root.handlers):
        root.removeHandler(handler)
    console = logging.StreamHandler()
    console.setFormatter(logging.Formatter(FORMAT))
    root.addHandler(console)
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    if not to_file:
        return
    settings.log_dir.mkdir(parents=True, exist_ok=True)
    file_handler = logging.handlers.RotatingFileHandler(
        settings.log_dir / "server.log", maxBytes=50 * 1024 * 1024, backupCount=5
    )
    file_handler.setFormatter(logging.Formatter(FORMAT))
    root.addHandler(file_handler)
