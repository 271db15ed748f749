"""Running a site: serve and migrate."""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING, Any

from librarian_server.cli.common import CLIError, open_catalogue, settings_from

if TYPE_CHECKING:
    from fastapi import FastAPI

    from librarian_server.settings import ServerSettings


def cmd_run(args: argparse.Namespace) -> int:
    import uvicorn

    from librarian_server.app import create_app
    from librarian_server.bootstrap import first_start
    from librarian_server.datadir_lock import lock_data_dir
    from librarian_server.logs import configure_logging

    settings = settings_from(args)
    _check_workers(settings)
    lock_data_dir(settings)  # before anything: a second server gets one readable line
    configure_logging(settings)
    engine, factory = open_catalogue(settings)
    try:
        for line in first_start(factory, settings):
            print(line, flush=True)
        _check_stores(factory)
    finally:
        engine.dispose()
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_config": None,
        "access_log": args.access_log,
        "timeout_keep_alive": 30,
        "proxy_headers": True,
        "forwarded_allow_ips": settings.forwarded_allow_ips,
    }
    if settings.workers == 1:
        uvicorn.run(create_app(settings), **options)
        return 0
    # Workers are fresh interpreters: they read their settings from the environment,
    # so the command line's choices are handed over there.
    os.environ["LIBRARIAN_SERVER_DATA_DIR"] = str(settings.data_dir)
    os.environ["LIBRARIAN_SERVER_HOST"] = settings.host
    os.environ["LIBRARIAN_SERVER_PORT"] = str(settings.port)
    if args.config is not None:
        os.environ["LIBRARIAN_SERVER_CONFIG_FILE"] = str(args.config.resolve())
    uvicorn.run(f"{__name__}:worker_app", factory=True, workers=settings.workers, **options)
    return 0


def _check_stores(factory: Any) -> None:
    """A store that cannot be reached is said before serving, in one line each."""
    from librarian_server.services.catalogue.stores import check_stores

    with factory() as session:
        problems = check_stores(session)
    if problems:
        raise CLIError(
            "; ".join(
                f"store {name!r}: {exc.reason} {exc.suggested_remedy}" for name, exc in problems
            )
            + " (or `librarian-server store disable NAME` to start without it)"
        )


def _check_workers(settings: ServerSettings) -> None:
    """Refuse settings under which several API processes would hurt each other."""
    if settings.workers == 1:
        return
    if settings.background.in_server:
        raise CLIError(
            f"{settings.workers} workers would each run the background tasks: set "
            "LIBRARIAN_SERVER_BACKGROUND__IN_SERVER=false and run `librarian-server background`"
        )
    if settings.is_embedded:
        raise CLIError(
            f"{settings.workers} workers need PostgreSQL: the embedded SQLite catalogue is "
            "for one server process (set LIBRARIAN_SERVER_DATABASE_URL)"
        )


def worker_app() -> FastAPI:
    """One API worker of ``run --workers N``; the supervising process keeps the log file."""
    from librarian_server.app import create_app
    from librarian_server.logs import configure_logging
    from librarian_server.settings import load_settings

    settings = load_settings()
    configure_logging(settings, to_file=False)
    return create_app(settings)


def cmd_migrate(args: argparse.Namespace) -> int:
    from librarian_server import migrate

    settings = settings_from(args)
    if args.downgrade:
        migrate.downgrade(settings, args.downgrade)
    else:
        migrate.upgrade(settings, args.revision)
    print(f"database at revision {migrate.current_revision(settings)}")
    return 0


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    run = sub.add_parser("run", parents=[common], help="serve the API")
    run.add_argument("--host")
    run.add_argument("--port", type=int)
    run.add_argument(
        "--workers", type=int, help="API processes (LIBRARIAN_SERVER_WORKERS; default 1)"
    )
    run.add_argument("--access-log", action="store_true", help="log every request")
    run.set_defaults(func=cmd_run)

    mig = sub.add_parser("migrate", parents=[common], help="bring the database schema up to date")
    mig.add_argument("--revision", default="head")
    mig.add_argument("--downgrade", metavar="REVISION", help="downgrade to REVISION instead")
    mig.set_defaults(func=cmd_migrate)
