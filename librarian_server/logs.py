"""Logging set-up: console plus a rotating file in the data directory.

Both production entries configure it the same way: ``librarian-server run`` and
``create_app`` (the ``uvicorn --factory`` entry). It is idempotent: the handlers
it installed before are replaced, so calling it twice leaves one of each, and
handlers others installed (a test runner's) are left alone.
"""

from __future__ import annotations

import logging
import logging.handlers

from librarian_server.settings import ServerSettings

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_MARK = "_librarian_handler"


def configure_logging(settings: ServerSettings, *, to_file: bool = True) -> None:
    """``to_file=False`` for extra API workers: one rotating file cannot take several writers."""
    root = logging.getLogger()
    root.setLevel(settings.log_level.upper())
    for handler in list(root.handlers):
        if getattr(handler, _MARK, False):
            root.removeHandler(handler)
            handler.close()
    console = logging.StreamHandler()
    console.setFormatter(logging.Formatter(FORMAT))
    setattr(console, _MARK, True)
    root.addHandler(console)
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    # One INFO line per peer request would drown the server's own log.
    for chatty in ("httpx", "httpcore"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    if not to_file:
        return
    settings.log_dir.mkdir(parents=True, exist_ok=True)
    file_handler = logging.handlers.RotatingFileHandler(
        settings.log_dir / "server.log", maxBytes=50 * 1024 * 1024, backupCount=5
    )
    file_handler.setFormatter(logging.Formatter(FORMAT))
    setattr(file_handler, _MARK, True)
    root.addHandler(file_handler)
