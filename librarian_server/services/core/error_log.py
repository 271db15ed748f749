"""The operator-facing error log, written in its own transaction so it survives rollbacks."""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session, sessionmaker

from librarian_server.orm import ErrorCategory, ErrorRecord

log = logging.getLogger("librarian_server.errors")


def record_error(
    factory: sessionmaker[Session],
    category: ErrorCategory,
    message: str,
    *,
    caller: str = "",
) -> None:
    log.warning("%s: %s", category.value, message)
    try:
        with factory.begin() as session:
            session.add(ErrorRecord(category=category, message=message, caller=caller))
    except Exception:  # the log must never turn one failure into two
        log.exception("could not record error in the database")
