"""What every ``librarian-server`` command shares: settings, the catalogue, secrets."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from ..db import make_engine, make_session_factory
from ..settings import ServerSettings, load_settings


class CLIError(Exception):
    """An expected failure: printed as one line, exit status 1."""


def settings_from(args: argparse.Namespace) -> ServerSettings:
    return load_settings(
        args.config,
        data_dir=args.data_dir,
        host=getattr(args, "host", None),
        port=getattr(args, "port", None),
    )


def open_catalogue(settings: ServerSettings) -> tuple[Engine, sessionmaker[Session]]:
    """The embedded default migrates itself; a production database must be at head."""
    from .. import migrate
    from ..services.maintenance import ensure_default_store

    if settings.is_embedded:
        migrate.upgrade(settings)
    else:
        migrate.check_at_head(settings)
    engine = make_engine(settings)
    factory = make_session_factory(engine)
    if settings.is_embedded:
        with factory.begin() as session:
            ensure_default_store(session, settings)
    return engine, factory


def read_secret(path: str) -> str:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text()
    except OSError as exc:
        raise CLIError(f"cannot read {path}: {exc.strerror}") from None
    secret = text.rstrip("\r\n")
    if not secret:
        raise CLIError(f"{path} is empty")
    return secret
