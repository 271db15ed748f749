"""What every ``librarian-server`` command shares: settings, the catalogue, secrets."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from librarian_server.db import make_engine, make_session_factory
from librarian_server.settings import ServerSettings, load_settings


class CLIError(Exception):
    """An expected failure: printed as one line, exit status 1."""


def settings_from(args: argparse.Namespace) -> ServerSettings:
    try:
        return load_settings(
            args.config,
            data_dir=args.data_dir,
            host=getattr(args, "host", None),
            port=getattr(args, "port", None),
            workers=getattr(args, "workers", None),
        )
    except ValidationError:
        raise
    except ValueError as exc:  # TOML or JSON syntax in the settings file
        where = args.config or os.environ.get("LIBRARIAN_SERVER_CONFIG_FILE")
        raise CLIError(f"cannot parse the settings file {where}: {exc}") from None


def open_catalogue(settings: ServerSettings) -> tuple[Engine, sessionmaker[Session]]:
    """The embedded default migrates itself; a production database must be at head."""
    from librarian_server import migrate
    from librarian_server.services.site.maintenance import ensure_default_store

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


def read_password(path: str | None, *, user: str) -> str:
    """From ``--password-file`` (``-`` = stdin) or, without one, typed twice at a terminal.

    Never from the command line: argv shows in ``ps`` and in shell history and logs.
    """
    if path is not None:
        return read_secret(path)
    if not sys.stdin.isatty():
        raise CLIError("no terminal to ask for the password: pass --password-file FILE (- = stdin)")
    first = getpass.getpass(f"New password for {user}: ")
    if getpass.getpass("Again: ") != first:
        raise CLIError("the two passwords differ; nothing changed")
    if not first:
        raise CLIError("empty password; nothing changed")
    return first
